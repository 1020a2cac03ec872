"""A Go function on provided.al2023: a `bootstrap` binary built with the Go
toolchain, installed from Debian's packages when the machine lacks one."""
import base64
import os
import shutil
import subprocess

import pytest

from lambda_fixtures.helpers import HERE, ROOT, create_function, invoke_json, zip_files


def go_binary():
    go = shutil.which("go")
    if go:
        return go
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "golang-go"], check=True, timeout=600,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                       stdout=subprocess.DEVNULL)
        return shutil.which("go")
    return None


@pytest.fixture(scope="module")
def go_bootstrap():
    go = go_binary()
    if not go:
        pytest.skip("no Go toolchain, and it cannot be installed here (needs root and apt-get)")
    out = ROOT / "target" / "lambda-fixtures" / "go"
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([go, "build", "-o", str(out / "bootstrap"), str(HERE / "go-fn" / "main.go")], check=True,
                   timeout=600, env={**os.environ, "GO111MODULE": "off", "CGO_ENABLED": "0",
                                     "GOCACHE": str(out / "cache")})
    return (out / "bootstrap").read_bytes()


def test_go_function_on_provided_al2023(stratus, unique_name, go_bootstrap):
    lam = stratus.client("lambda")
    name = unique_name("go")
    create_function(lam, name, zip_files({"bootstrap": go_bootstrap}), runtime="provided.al2023",
                    handler="bootstrap")
    r = invoke_json(lam, name, {"hello": "go"}, LogType="Tail")
    assert "FunctionError" not in r
    body = r["Body"]
    assert body["lang"] == "go" and body["event"] == {"hello": "go"}
    assert body["function"] == name
    assert body["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert int(body["deadline"]) > 0
    log = base64.b64decode(r["LogResult"]).decode()
    assert f"go handler got {r['ResponseMetadata']['RequestId']}" in log
    # Errors the function reports come back as AWS shapes them.
    failed = invoke_json(lam, name, {"fail": True})
    assert failed["FunctionError"] == "Unhandled"
    assert failed["Body"] == {"errorMessage": "asked to fail", "errorType": "GoError"}
    # Warm: the same process serves the next invoke.
    assert invoke_json(lam, name, {"n": 2})["Body"]["event"] == {"n": 2}
