"""Helpers for the Lambda end-to-end tests: zips, function creation, waiting."""
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_files(files):
    """Zip a {name: text-or-bytes} dict; names ending in 'bootstrap' are executable."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            mode = 0o755 if name.endswith("bootstrap") else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content)
    return buf.getvalue()


def zip_dir(path):
    files = {}
    for p in Path(path).rglob("*"):
        if p.is_file():
            files[str(p.relative_to(path))] = p.read_bytes()
    return zip_files(files)


def create_function(client, name, code, handler="app.handler", runtime="python3.11", wait=True, **kw):
    resp = client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                                  Code={"ZipFile": code} if isinstance(code, bytes) else code, **kw)
    if wait:
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
    return resp


def invoke_json(client, name, payload=None, **kw):
    resp = client.invoke(FunctionName=name, Payload=json.dumps(payload if payload is not None else {}), **kw)
    body = resp["Payload"].read()
    resp["Body"] = json.loads(body) if body else None
    return resp


def build_rust_fixture():
    """Build the Rust provided.al2023 bootstrap once (cached in target/lambda-fixtures)."""
    manifest = HERE / "rust-fn" / "Cargo.toml"
    target = ROOT / "target" / "lambda-fixtures"
    binary = target / "release" / "bootstrap"
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(manifest),
                    "--target-dir", str(target)], check=True, timeout=900)
    return binary
