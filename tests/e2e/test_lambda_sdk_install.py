"""`stratus runtimes install`: boto3 and the AWS SDK for JavaScript v3 in the
managed runtime folder, importable by functions that do not package them.
Downloads from PyPI and npm, hence slow."""
import json
import shutil
import subprocess

import pytest

from conftest import STRATUS_BIN, Stratus
from lambda_fixtures.helpers import create_function, invoke_json, zip_files

PY_APP = """
import boto3
def handler(event, context):
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName=event["queue"])
    return {"file": boto3.__file__, "queues": sqs.list_queues().get("QueueUrls", [])}
"""

NODE_APP = """
const { SQSClient, CreateQueueCommand, ListQueuesCommand } = require("@aws-sdk/client-sqs");
exports.handler = async (event) => {
  const sqs = new SQSClient({});
  await sqs.send(new CreateQueueCommand({ QueueName: event.queue }));
  const out = await sqs.send(new ListQueuesCommand({}));
  return { file: require.resolve("@aws-sdk/client-sqs"), queues: out.QueueUrls || [] };
};
"""


def install(data_dir, *flags):
    return subprocess.run([STRATUS_BIN, "runtimes", "install", "--data-dir", str(data_dir), *flags],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_runtimes_install_python_and_node(tmp_path, unique_name):
    data = tmp_path / "data"
    managed = data / "lambda" / "runtimes"
    # The test interpreter has boto3, so a plain install skips Python...
    skipped = install(data, "--python")
    assert skipped.returncode == 0, skipped.stderr
    assert "already provides boto3; skipped" in skipped.stdout
    # ...and --force installs it anyway, which lets the test prove functions
    # import the managed copy (it comes before the interpreter's site-packages).
    done = install(data, "--python", "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (managed / "python" / "boto3" / "__init__.py").exists()
    node = shutil.which("node") and shutil.which("npm")
    if node:
        done = install(data, "--node", "--force")
        assert done.returncode == 0, done.stdout + done.stderr
        assert (managed / "nodejs" / "node_modules" / "@aws-sdk" / "client-sqs").is_dir()
        assert (managed / "nodejs" / "node_modules" / "@aws-sdk" / "lib-dynamodb").is_dir()

    server = Stratus(data).start()
    try:
        lam = server.client("lambda")
        name = unique_name("py")
        create_function(lam, name, zip_files({"app.py": PY_APP}))
        q = unique_name("q")
        r = invoke_json(lam, name, {"queue": q})
        assert "FunctionError" not in r, r["Body"]
        assert r["Body"]["file"].startswith(str(managed / "python")), r["Body"]["file"]
        assert any(u.endswith("/" + q) for u in r["Body"]["queues"])
        if node:
            version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
            runtime = f"nodejs{version.strip().lstrip('v').split('.')[0]}.x"
            name = unique_name("js")
            create_function(lam, name, zip_files({"index.js": NODE_APP}), handler="index.handler", runtime=runtime)
            q = unique_name("qj")
            r = invoke_json(lam, name, {"queue": q})
            assert "FunctionError" not in r, r["Body"]
            assert r["Body"]["file"].startswith(str(managed / "nodejs" / "node_modules")), r["Body"]["file"]
            assert any(u.endswith("/" + q) for u in r["Body"]["queues"])
    finally:
        assert server.stop() == 0
