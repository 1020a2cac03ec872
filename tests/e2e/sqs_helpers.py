"""Small helpers shared by the SQS end-to-end tests (no fixtures here)."""
import hashlib
import json
import struct

import pytest
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"

# The codes a client sees. For the query protocol they come from the XML
# <Code>; for JSON (awsQueryCompatible) botocore takes them from the
# `x-amzn-query-error` header, so both protocols surface the same string.
NON_EXISTENT_QUEUE = "AWS.SimpleQueueService.NonExistentQueue"
QUEUE_ALREADY_EXISTS = "QueueAlreadyExists"
PURGE_IN_PROGRESS = "AWS.SimpleQueueService.PurgeQueueInProgress"

# Attributes whose values are computed, not configured.
COMPUTED = {
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
}


def queue_arn(name, account=ACCOUNT, region=REGION):
    return f"arn:aws:sqs:{region}:{account}:{name}"


def expect_error(call, code, status=None, **kwargs):
    """Run `call(**kwargs)`, assert it fails with `code` (and HTTP `status`)."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response
    assert err["Error"]["Code"] == code, err
    if status is not None:
        assert err["ResponseMetadata"]["HTTPStatusCode"] == status, err
    return info.value


def get_attrs(client, url, *names):
    names = list(names) or ["All"]
    return client.get_queue_attributes(QueueUrl=url, AttributeNames=names).get("Attributes", {})


def counts(client, url):
    a = get_attrs(client, url, *sorted(COMPUTED))
    return (
        int(a["ApproximateNumberOfMessages"]),
        int(a["ApproximateNumberOfMessagesNotVisible"]),
        int(a["ApproximateNumberOfMessagesDelayed"]),
    )


def md5_hex(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.md5(data).hexdigest()


def md5_of_message_attributes(attrs):
    """AWS's MD5OfMessageAttributes: per attribute sorted by name, length-prefixed
    name, data type, a transport byte (1 string/number, 2 binary) and value."""
    buf = bytearray()

    def put(b):
        buf.extend(struct.pack(">I", len(b)))
        buf.extend(b)

    for name in sorted(attrs):
        value = attrs[name]
        put(name.encode("utf-8"))
        put(value["DataType"].encode("utf-8"))
        if "BinaryValue" in value:
            buf.append(2)
            bv = value["BinaryValue"]
            put(bv if isinstance(bv, bytes) else bv.encode("utf-8"))
        else:
            buf.append(1)
            put(value["StringValue"].encode("utf-8"))
    return hashlib.md5(bytes(buf)).hexdigest()


def statements(policy_json):
    """The statements of a policy document string (None/empty → [])."""
    if not policy_json:
        return []
    return json.loads(policy_json).get("Statement", [])


def as_list(v):
    return v if isinstance(v, list) else [v]


def drain(client, url, visibility=30, max_empty=2, **kwargs):
    """Receive (and delete) until `max_empty` empty receives in a row."""
    out, empty = [], 0
    while empty < max_empty:
        msgs = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                      VisibilityTimeout=visibility, WaitTimeSeconds=0,
                                      **kwargs).get("Messages", [])
        if not msgs:
            empty += 1
            continue
        empty = 0
        out.extend(msgs)
        client.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    return out
