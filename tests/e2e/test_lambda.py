"""AWS Lambda: control plane, invoke, execution environments, logs, async, persistence."""
import base64
import json
import os
import time

import pytest
from botocore.exceptions import ClientError

from conftest import wait_until
from lambda_fixtures.helpers import ROLE, create_function, invoke_json, zip_files

ECHO = """
import os, json
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    print("hello from", context.function_name)
    return {"event": event, "count": COUNT, "pid": os.getpid(),
            "request_id": context.aws_request_id, "arn": context.invoked_function_arn,
            "version": context.function_version, "memory": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(),
            "group": context.log_group_name, "stream": context.log_stream_name,
            "env": {k: os.environ.get(k) for k in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "_HANDLER",
                    "LAMBDA_TASK_ROOT", "AWS_LAMBDA_RUNTIME_API", "AWS_ENDPOINT_URL", "TZ", "MY_VAR",
                    "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_ACCESS_KEY_ID"]},
            "cwd": os.getcwd(), "tmp": os.environ.get("TMPDIR")}
"""


@pytest.fixture
def lam(stratus):
    return stratus.client("lambda")


def echo_zip(extra=None):
    files = {"app.py": ECHO}
    files.update(extra or {})
    return zip_files(files)


def err_code(exc):
    return exc.value.response["Error"]["Code"]


def test_create_get_list_delete(lam, unique_name):
    name = unique_name("fn")
    code = echo_zip()
    created = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                  Code={"ZipFile": code}, Environment={"Variables": {"MY_VAR": "x"}},
                                  Timeout=7, MemorySize=256, Tags={"team": "a"})
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    import hashlib
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert created["CodeSize"] == len(code)
    assert created["Version"] == "$LATEST"
    assert created["Timeout"] == 7 and created["MemorySize"] == 256
    assert created["PackageType"] == "Zip" and created["Architectures"] == ["x86_64"]
    assert created["EphemeralStorage"] == {"Size": 512}
    assert created["Environment"]["Variables"] == {"MY_VAR": "x"}
    # LastModified format: 2024-01-01T00:00:00.000+0000
    import re
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", created["LastModified"])
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 20})
    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    assert got["Tags"] == {"team": "a"}
    assert got["Code"]["RepositoryType"] == "S3"
    import requests
    assert requests.get(got["Code"]["Location"], timeout=10).content == code
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": code})
    assert err_code(e) == "ResourceConflictException"
    assert e.value.response["Error"]["Message"] == f"Function already exist: {name}"
    names = [f["FunctionName"] for p in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
             for f in p["Functions"]]
    assert name in names
    assert lam.delete_function(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName=name)
    assert err_code(e) == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == \
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"


def test_validation_errors(lam, unique_name):
    name = unique_name("bad")
    code = echo_zip()
    cases = [
        (dict(Runtime="python2.7"), "InvalidParameterValueException", "python2.7 is no longer supported"),
        (dict(Timeout=901), "ValidationException", "less than or equal to 900"),
        (dict(MemorySize=64), None, None),
        (dict(Environment={"Variables": {"K": "v" * 5000}}), "InvalidParameterValueException", "4KB limit"),
        (dict(Environment={"Variables": {"AWS_REGION": "x"}}), "InvalidParameterValueException", "reserved keys"),
        (dict(Code={"S3Bucket": "my-bucket", "S3Key": "k.zip"}), "InvalidParameterValueException", "NoSuchBucket"),
        (dict(Code={"ZipFile": b"not a zip"}), "InvalidParameterValueException", "Could not unzip"),
    ]
    for extra, code_name, text in cases:
        args = dict(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler", Code={"ZipFile": code})
        args.update(extra)
        with pytest.raises(Exception) as e:
            lam.create_function(**args)
        if code_name:
            assert err_code(e) == code_name, extra
            assert text in e.value.response["Error"]["Message"], extra
    with pytest.raises(ClientError) as e:
        lam.get_function_configuration(FunctionName=name)
    assert err_code(e) == "ResourceNotFoundException"


def test_invoke_environment_and_reuse(stratus, lam, unique_name):
    name = unique_name("echo")
    create_function(lam, name, echo_zip(), Environment={"Variables": {"MY_VAR": "v1"}}, MemorySize=256)
    r1 = invoke_json(lam, name, {"a": 1})
    assert r1["StatusCode"] == 200 and "FunctionError" not in r1
    assert r1["ExecutedVersion"] == "$LATEST"
    b = r1["Body"]
    assert b["event"] == {"a": 1} and b["count"] == 1
    assert b["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert b["version"] == "$LATEST" and b["memory"] == "256"
    assert 0 < b["remaining"] <= 3000
    assert b["group"] == f"/aws/lambda/{name}"
    import re
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", b["stream"])
    env = b["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name and env["AWS_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "app.handler" and env["MY_VAR"] == "v1" and env["TZ"] == ":UTC"
    assert env["AWS_ENDPOINT_URL"] == stratus.endpoint
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert b["cwd"] == env["LAMBDA_TASK_ROOT"]
    # Warm reuse: same process, module state kept.
    r2 = invoke_json(lam, name, {"a": 2})
    assert r2["Body"]["count"] == 2 and r2["Body"]["pid"] == b["pid"]
    # A configuration update restarts the environment with the new settings.
    upd = lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"MY_VAR": "v2"}})
    assert upd["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 20})
    r3 = invoke_json(lam, name)
    assert r3["Body"]["env"]["MY_VAR"] == "v2" and r3["Body"]["count"] == 1


def test_invoke_tail_logs_and_cloudwatch(stratus, lam, unique_name):
    name = unique_name("logs")
    create_function(lam, name, echo_zip())
    r = invoke_json(lam, name, {"x": 1}, LogType="Tail")
    log = base64.b64decode(r["LogResult"]).decode()
    rid = r["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {rid} Version: $LATEST" in log
    assert f"hello from {name}" in log
    assert f"END RequestId: {rid}" in log
    import re
    assert re.search(rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
                     r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms", log), log
    # Warm invoke: no Init Duration.
    r2 = invoke_json(lam, name, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(r2["LogResult"]).decode()
    logs = stratus.client("logs")
    try:
        logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")
    except ClientError:
        pytest.skip("CloudWatch Logs is not available in this build")

    def events():
        try:
            streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
        except ClientError:
            return None
        out = []
        for s in streams:
            out += [e["message"] for e in logs.get_log_events(logGroupName=f"/aws/lambda/{name}",
                                                              logStreamName=s["logStreamName"])["events"]]
        return out if any(m.startswith("REPORT") for m in out) and len([m for m in out if m.startswith("END")]) >= 2 else None
    msgs = wait_until(events, timeout=10)
    assert msgs, "log events did not arrive"
    assert any(m.startswith(f"START RequestId: {rid}") for m in msgs)


def test_function_errors(lam, unique_name):
    name = unique_name("err")
    code = zip_files({"app.py": """
import time, sys
def handler(event, context):
    if event.get("mode") == "raise":
        raise ValueError("bad value")
    if event.get("mode") == "sleep":
        time.sleep(5)
    if event.get("mode") == "exit":
        sys.exit(3)
    if event.get("mode") == "unserializable":
        return {1, 2}
    return "ok"
"""})
    create_function(lam, name, code, Timeout=1)
    r = invoke_json(lam, name, {"mode": "raise"})
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert r["Body"]["errorType"] == "ValueError" and r["Body"]["errorMessage"] == "bad value"
    assert r["Body"]["stackTrace"][0].startswith('  File "') and "in handler" in r["Body"]["stackTrace"][0]
    r = invoke_json(lam, name, {"mode": "sleep"})
    assert r["FunctionError"] == "Unhandled"
    assert r["Body"]["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in r["Body"]["errorMessage"]
    r = invoke_json(lam, name, {"mode": "unserializable"})
    assert r["Body"]["errorType"] == "Runtime.MarshalError"
    r = invoke_json(lam, name, {"mode": "exit"})
    assert r["FunctionError"] == "Unhandled" and r["Body"]["errorType"] == "Runtime.ExitError"
    assert invoke_json(lam, name)["Body"] == "ok"  # a fresh environment after the crash


def test_init_errors(lam, unique_name):
    name = unique_name("init")
    create_function(lam, name, zip_files({"other.py": "x = 1"}))
    r = invoke_json(lam, name)
    assert r["FunctionError"] == "Unhandled"
    assert r["Body"]["errorType"] == "Runtime.ImportModuleError"
    assert r["Body"]["errorMessage"].startswith("Unable to import module 'app'")
    name2 = unique_name("nohandler")
    create_function(lam, name2, zip_files({"app.py": "def other(e, c): pass"}))
    r = invoke_json(lam, name2)
    assert r["Body"]["errorType"] == "Runtime.HandlerNotFound"
    assert r["Body"]["errorMessage"] == "Handler 'handler' missing on module 'app'"


def test_invoke_types_and_limits(lam, unique_name):
    name = unique_name("types")
    create_function(lam, name, echo_zip())
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"x": "a" * 300_000}))
    assert err_code(e) == "RequestTooLargeException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"not json")
    assert err_code(e) == "InvalidRequestContentException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name + "-missing", Payload=b"{}")
    assert err_code(e) == "ResourceNotFoundException"
    big = unique_name("big")
    create_function(lam, big, zip_files({"app.py": "def handler(e, c):\n    return 'x' * 7_000_000\n"}))
    r = invoke_json(lam, big)
    assert r["FunctionError"] == "Unhandled" and r["Body"]["errorType"] == "Function.ResponseSizeTooLarge"


def test_versions_aliases_and_weighted_routing(lam, unique_name):
    name = unique_name("ver")
    create_function(lam, name, zip_files({"app.py": "def handler(e, c):\n    return 'v1'\n"}))
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1" and v1["FunctionArn"].endswith(f"{name}:1") and v1["Description"] == "first"
    # Publishing without changes returns the same version.
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_code(FunctionName=name, ZipFile=zip_files({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 20})
    v2 = lam.publish_version(FunctionName=name)
    assert v2["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    assert invoke_json(lam, name, Qualifier="1")["Body"] == "v1"
    assert invoke_json(lam, f"{name}:2")["Body"] == "v2"
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert alias["AliasArn"].endswith(f"{name}:live")
    seen = {}
    for _ in range(30):
        r = invoke_json(lam, name, Qualifier="live")
        seen[r["ExecutedVersion"]] = r["Body"]
    assert seen == {"1": "v1", "2": "v2"}
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2", RoutingConfig={"AdditionalVersionWeights": {}})
    assert invoke_json(lam, name, Qualifier="live")["ExecutedVersion"] == "2"
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["live"]
    assert lam.get_function_configuration(FunctionName=name, Qualifier="live")["Version"] == "2"
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName=name, Qualifier="2")
    assert err_code(e) == "ResourceConflictException"
    lam.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(ClientError) as e:
        lam.get_alias(FunctionName=name, Name="live")
    assert err_code(e) == "ResourceNotFoundException"
    lam.delete_function(FunctionName=name, Qualifier="1")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name, Qualifier="1")
    assert err_code(e) == "ResourceNotFoundException"


def test_permissions_tags_concurrency_settings(lam, unique_name):
    name = unique_name("perm")
    create_function(lam, name, echo_zip())
    st = json.loads(lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket")["Statement"])
    assert st["Principal"] == {"Service": "s3.amazonaws.com"}
    assert st["Condition"] == {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}
    with pytest.raises(ClientError) as e:
        lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    assert err_code(e) == "ResourceConflictException"
    pol = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert [s["Sid"] for s in pol["Statement"]] == ["s3"]
    lam.remove_permission(FunctionName=name, StatementId="s3")
    with pytest.raises(ClientError) as e:
        lam.get_policy(FunctionName=name)
    assert err_code(e) == "ResourceNotFoundException"
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"a": "1", "b": "2"})
    lam.untag_resource(Resource=arn, TagKeys=["a"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    before = lam.get_account_settings()["AccountLimit"]
    assert before["ConcurrentExecutions"] == 1000
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    after = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert after == before["UnreservedConcurrentExecutions"] - 5
    with pytest.raises(ClientError) as e:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=950)
    assert err_code(e) == "InvalidParameterValueException"
    assert "minimum value of [100]" in e.value.response["Error"]["Message"]
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name)
    assert err_code(e) == "TooManyRequestsException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    lam.delete_function_concurrency(FunctionName=name)
    assert invoke_json(lam, name)["StatusCode"] == 200


def test_reserved_concurrency_throttles_parallel_invokes(stratus, lam, unique_name):
    name = unique_name("conc")
    # The first call holds the one slot for 3 s: on a loaded machine another
    # worker's requests can delay a thread's call by over a second.
    create_function(lam, name, zip_files({"app.py": "import time\ndef handler(e, c):\n    time.sleep(3)\n    return 1\n"}))
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    invoke_json(lam, name)  # warm up
    from concurrent.futures import ThreadPoolExecutor
    clients = [stratus.client("lambda") for _ in range(3)]

    def call(c):
        try:
            c.invoke(FunctionName=name, Payload=b"{}")
            return "ok"
        except ClientError as e:
            return e.response["Error"]["Code"]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, clients))
    assert results.count("ok") == 1 and results.count("TooManyRequestsException") == 2


def test_concurrent_environments(stratus, lam, unique_name):
    name = unique_name("par")
    create_function(lam, name, zip_files({"app.py": "import os, time\ndef handler(e, c):\n    time.sleep(0.5)\n    return os.getpid()\n"}))
    from concurrent.futures import ThreadPoolExecutor
    clients = [stratus.client("lambda") for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        pids = list(pool.map(lambda c: json.loads(c.invoke(FunctionName=name)["Payload"].read()), clients))
    assert len(set(pids)) == 3


def test_layers(lam, unique_name):
    layer = unique_name("layer")
    content = zip_files({"python/greeting.py": "WORD = 'hi from layer'\n"})
    v1 = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": content}, CompatibleRuntimes=["python3.11"])
    assert v1["Version"] == 1 and v1["LayerVersionArn"].endswith(f":layer:{layer}:1")
    v2 = lam.publish_layer_version(LayerName=layer, Content={"ZipFile": content}, Description="two")
    assert v2["Version"] == 2
    assert lam.get_layer_version(LayerName=layer, VersionNumber=1)["CompatibleRuntimes"] == ["python3.11"]
    assert lam.get_layer_version_by_arn(Arn=v2["LayerVersionArn"])["Description"] == "two"
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=layer)["LayerVersions"]] == [2, 1]
    assert any(l["LayerName"] == layer and l["LatestMatchingVersion"]["Version"] == 2
               for l in lam.list_layers()["Layers"])
    lam.add_layer_version_permission(LayerName=layer, VersionNumber=1, StatementId="all",
                                     Action="lambda:GetLayerVersion", Principal="*")
    pol = json.loads(lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)["Policy"])
    assert pol["Statement"][0]["Sid"] == "all"
    lam.remove_layer_version_permission(LayerName=layer, VersionNumber=1, StatementId="all")
    name = unique_name("uses-layer")
    create_function(lam, name, zip_files({"app.py": "import greeting\ndef handler(e, c):\n    return greeting.WORD\n"}),
                    Layers=[v1["LayerVersionArn"]])
    assert lam.get_function_configuration(FunctionName=name)["Layers"][0]["Arn"] == v1["LayerVersionArn"]
    assert invoke_json(lam, name)["Body"] == "hi from layer"
    lam.delete_layer_version(LayerName=layer, VersionNumber=2)
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=layer)["LayerVersions"]] == [1]
    with pytest.raises(ClientError) as e:
        create_function(lam, unique_name("x"), echo_zip(), Layers=[v1["LayerVersionArn"][:-1] + "9"])
    assert err_code(e) == "InvalidParameterValueException"


def test_node_function(lam, unique_name):
    name = unique_name("node")
    code = zip_files({
        "index.js": """
let count = 0;
exports.handler = async (event, context) => {
  count += 1;
  console.log("node says", JSON.stringify(event));
  if (event.fail) throw new TypeError("node failure");
  return { count, fn: context.functionName, rid: context.awsRequestId, mem: context.memoryLimitInMB,
           remaining: context.getRemainingTimeInMillis() > 0 };
};
exports.cb = (event, context, callback) => { callback(null, { cb: event.v }); };
""",
        "esm.mjs": "export const handler = async (e) => ({ esm: true });\n",
    })
    create_function(lam, name, code, handler="index.handler", runtime="nodejs20.x")
    r = invoke_json(lam, name, {"v": 1}, LogType="Tail")
    assert r["Body"]["count"] == 1 and r["Body"]["fn"] == name and r["Body"]["mem"] == "128"
    assert r["Body"]["rid"] == r["ResponseMetadata"]["RequestId"] and r["Body"]["remaining"] is True
    log = base64.b64decode(r["LogResult"]).decode()
    assert f"\t{r['Body']['rid']}\tINFO\tnode says {{\"v\":1}}" in log
    assert invoke_json(lam, name)["Body"]["count"] == 2
    r = invoke_json(lam, name, {"fail": True})
    assert r["FunctionError"] == "Unhandled"
    assert r["Body"]["errorType"] == "TypeError" and r["Body"]["errorMessage"] == "node failure"
    assert r["Body"]["trace"][0] == "TypeError: node failure"
    lam.update_function_configuration(FunctionName=name, Handler="index.cb")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 20})
    assert invoke_json(lam, name, {"v": 7})["Body"] == {"cb": 7}
    lam.update_function_configuration(FunctionName=name, Handler="esm.handler")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 20})
    assert invoke_json(lam, name)["Body"] == {"esm": True}


def test_missing_interpreter_fails_the_function(lam, unique_name):
    import shutil
    import subprocess
    ver = subprocess.run(["python3", "-c", "import sys;print('%d.%d'%sys.version_info[:2])"],
                         capture_output=True, text=True).stdout.strip()
    missing = [r for r in ("python3.14", "python3.9", "python3.12", "python3.13")
               if not shutil.which(r) and r != f"python{ver}"]
    if not missing:
        pytest.skip("every candidate interpreter is installed here")
    runtime = missing[0]
    name = unique_name("missing")
    create_function(lam, name, echo_zip(), runtime=runtime, wait=False)
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["State"] == "Failed" and cfg["StateReasonCode"] == "InvalidRuntime"
    assert runtime in cfg["StateReason"]
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName=name)
    assert err_code(e) == "ResourceConflictException"
    assert runtime in e.value.response["Error"]["Message"]


def test_local_code_mode(lam, unique_name, tmp_path):
    name = unique_name("local")
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 'one'\n")
    create_function(lam, name, {"S3Bucket": "stratus-local", "S3Key": str(tmp_path)})
    assert invoke_json(lam, name)["Body"] == "one"
    time.sleep(0.02)
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return 'two'\n")
    os.utime(tmp_path / "app.py", (time.time() + 1, time.time() + 1))
    assert invoke_json(lam, name)["Body"] == "two"


def test_async_retries_destinations_and_dlq(stratus, lam, unique_name):
    sqs = stratus.client("sqs")
    ok_q = sqs.create_queue(QueueName=unique_name("ok"))["QueueUrl"]
    fail_q = sqs.create_queue(QueueName=unique_name("fail"))["QueueUrl"]
    dlq = sqs.create_queue(QueueName=unique_name("dlq"))["QueueUrl"]
    arn = lambda url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = unique_name("async")
    create_function(lam, name, zip_files({"app.py": """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("async boom")
    return {"done": event["n"]}
"""}), DeadLetterConfig={"TargetArn": arn(dlq)})
    cfg = lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0, MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnSuccess": {"Destination": arn(ok_q)}, "OnFailure": {"Destination": arn(fail_q)}})
    assert cfg["MaximumRetryAttempts"] == 0 and cfg["FunctionArn"].endswith(":$LATEST")
    with pytest.raises(ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=3)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 1}))
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True, "n": 2}))

    def one(url):
        msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
        return json.loads(msgs[0]["Body"]) if msgs else None
    ok = wait_until(lambda: one(ok_q), timeout=15)
    assert ok["version"] == "1.0" and ok["requestContext"]["condition"] == "Success"
    assert ok["requestContext"]["approximateInvokeCount"] == 1
    assert ok["requestPayload"] == {"n": 1} and ok["responsePayload"] == {"done": 1}
    assert ok["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    bad = wait_until(lambda: one(fail_q), timeout=15)
    assert bad["requestContext"]["condition"] == "RetriesExhausted"
    assert bad["responseContext"]["functionError"] == "Unhandled"
    assert bad["responsePayload"]["errorMessage"] == "async boom"
    # Without an OnFailure destination, the DLQ gets the event.
    lam.update_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": ""}})
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"fail": True, "n": 3}))

    def dead():
        msgs = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get("Messages")
        return msgs[0] if msgs else None
    m = wait_until(dead, timeout=15)
    assert json.loads(m["Body"]) == {"fail": True, "n": 3}
    assert m["MessageAttributes"]["ErrorMessage"]["StringValue"] == "async boom"
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert len(listed) == 1
    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert err_code(e) == "ResourceNotFoundException"


def test_provisioned_concurrency(lam, unique_name):
    name = unique_name("prov")
    create_function(lam, name, echo_zip())
    v = lam.publish_version(FunctionName=name)["Version"]
    with pytest.raises(ClientError) as e:
        lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert err_code(e) == "InvalidParameterValueException"
    put = lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=v, ProvisionedConcurrentExecutions=2)
    assert put["Status"] == "IN_PROGRESS" and put["RequestedProvisionedConcurrentExecutions"] == 2
    got = wait_until(lambda: (lambda g: g if g["Status"] == "READY" else None)(
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=v)), timeout=10)
    assert got and got["AvailableProvisionedConcurrentExecutions"] == 2
    # A pre-warmed environment: no Init Duration on the first invoke.
    r = invoke_json(lam, name, Qualifier=v, LogType="Tail")
    assert "Init Duration" not in base64.b64decode(r["LogResult"]).decode()
    assert len(lam.list_provisioned_concurrency_configs(FunctionName=name)["ProvisionedConcurrencyConfigs"]) == 1
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=v)


def test_cli_create_and_invoke(stratus, unique_name, tmp_path):
    name = unique_name("cli")
    zpath = tmp_path / "fn.zip"
    zpath.write_bytes(echo_zip())
    out = stratus.cli("lambda", "create-function", "--function-name", name, "--runtime", "python3.11",
                      "--role", ROLE, "--handler", "app.handler", "--zip-file", f"fileb://{zpath}")
    assert out.json["FunctionName"] == name
    stratus.cli("lambda", "wait", "function-active-v2", "--function-name", name)
    resp = tmp_path / "out.json"
    res = stratus.cli("lambda", "invoke", "--function-name", name, "--payload", '{"k": "v"}', str(resp))
    assert res.json["StatusCode"] == 200
    assert json.loads(resp.read_text())["event"] == {"k": "v"}


def test_persistence_across_kill9(fresh_stratus, unique_name):
    server = fresh_stratus()
    lam = server.client("lambda")
    name = unique_name("persist")
    create_function(lam, name, echo_zip(), Environment={"Variables": {"MY_VAR": "kept"}})
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    lam.add_permission(FunctionName=name, StatementId="x", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    layer = lam.publish_layer_version(LayerName=unique_name("l"), Content={"ZipFile": zip_files({"python/m.py": "X=1"})})
    server.kill9()
    server.start()
    lam = server.client("lambda")
    cfg = lam.get_function_configuration(FunctionName=name)
    assert cfg["Environment"]["Variables"] == {"MY_VAR": "kept"} and cfg["State"] == "Active"
    assert lam.get_alias(FunctionName=name, Name="prod")["FunctionVersion"] == "1"
    assert json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"][0]["Sid"] == "x"
    assert lam.get_layer_version_by_arn(Arn=layer["LayerVersionArn"])["Version"] == 1
    r = invoke_json(lam, name, {"after": "restart"}, Qualifier="prod")
    assert r["Body"]["event"] == {"after": "restart"} and r["Body"]["env"]["MY_VAR"] == "kept"
