"""InvokeWithResponseStream: the response arrives as an event stream that
boto3 decodes (PayloadChunk events, then InvokeComplete)."""
import base64
import json

import pytest
from botocore.exceptions import ClientError

from lambda_fixtures.helpers import create_function, zip_files

APP = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("streaming failure")
    return {"echo": event, "big": "x" * event.get("size", 0)}
"""


def read(resp):
    chunks, complete = [], None
    for ev in resp["EventStream"]:
        if "PayloadChunk" in ev:
            chunks.append(ev["PayloadChunk"]["Payload"])
        if "InvokeComplete" in ev:
            complete = ev["InvokeComplete"]
    return b"".join(chunks), complete


def test_invoke_with_response_stream(stratus, unique_name):
    lam = stratus.client("lambda")
    name = unique_name("stream")
    create_function(lam, name, zip_files({"app.py": APP}))
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"a": 1, "size": 200000}),
                                           LogType="Tail")
    assert resp["StatusCode"] == 200 and resp["ExecutedVersion"] == "$LATEST"
    chunks = []
    complete = None
    for ev in resp["EventStream"]:
        if "PayloadChunk" in ev:
            chunks.append(ev["PayloadChunk"]["Payload"])
        if "InvokeComplete" in ev:
            complete = ev["InvokeComplete"]
    # The ~200 KB answer arrives as several 32 KiB PayloadChunk events.
    assert len(chunks) > 1 and all(len(c) <= 32 * 1024 for c in chunks)
    body = b"".join(chunks)
    out = json.loads(body)
    assert out["echo"] == {"a": 1, "size": 200000} and len(out["big"]) == 200000
    assert complete is not None and "ErrorCode" not in complete
    assert "END RequestId" in base64.b64decode(complete["LogResult"]).decode()

    failed = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps({"fail": True}))
    body, complete = read(failed)
    assert body == b""
    assert complete["ErrorCode"] == "Unhandled"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "streaming failure"

    with pytest.raises(ClientError) as e:
        lam.invoke_with_response_stream(FunctionName=unique_name("missing"), Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
