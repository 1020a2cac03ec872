"""A provided.al2023 function: the Rust `lambda_runtime` crate against Stratus's Runtime API."""
import base64

import pytest

from lambda_fixtures.helpers import build_rust_fixture, create_function, invoke_json, zip_files


@pytest.fixture(scope="module")
def rust_zip():
    binary = build_rust_fixture()
    return zip_files({"bootstrap": binary.read_bytes()})


# The first run compiles the fixture (lambda_runtime and its dependencies).
@pytest.mark.timeout(900)
def test_rust_provided_runtime(stratus, rust_zip, unique_name):
    lam = stratus.client("lambda")
    name = unique_name("rust")
    create_function(lam, name, rust_zip, handler="bootstrap", runtime="provided.al2023")
    r = invoke_json(lam, name, {"hello": "rust"}, LogType="Tail")
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    body = r["Body"]
    assert body["echo"] == {"hello": "rust"}
    assert body["request_id"] == r["ResponseMetadata"]["RequestId"]
    assert body["function_name"] == name
    assert body["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    log = base64.b64decode(r["LogResult"]).decode()
    assert "Init Duration" in log and f"END RequestId: {body['request_id']}" in log
    assert invoke_json(lam, name, {"n": 2})["Body"]["echo"] == {"n": 2}
    failed = invoke_json(lam, name, {"fail": True})
    assert failed["FunctionError"] == "Unhandled"
    assert failed["Body"]["errorMessage"] == "rust function failed on purpose"


def test_provided_without_bootstrap(stratus, unique_name):
    lam = stratus.client("lambda")
    name = unique_name("noboot")
    create_function(lam, name, zip_files({"readme.txt": "no bootstrap"}), handler="x", runtime="provided.al2023")
    r = invoke_json(lam, name)
    assert r["FunctionError"] == "Unhandled"
    assert r["Body"]["errorType"] == "Runtime.InvalidEntrypoint"
