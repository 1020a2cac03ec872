"""SQS messages end to end: send, receive, delete, attributes, batches, visibility,
delays, long polling and limits, driven by boto3 over both SQS protocols.

Expected codes and messages follow the SQS API reference (the botocore model
Stratus pins, models/VERSIONS.md) and answers recorded against real AWS.
Over the JSON protocol botocore reads the code from `x-amzn-query-error`, so
both protocols surface the same `Error.Code` (e.g. `AWS.SimpleQueueService.*`).
"""
import hashlib
import struct
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import wait_until

# ---------------------------------------------------------------- helpers


def md5_hex(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.md5(data).hexdigest()


def _framed(b):
    return struct.pack(">I", len(b)) + b


def md5_of_attributes(attrs):
    """AWS's digest of message (or message system) attributes: for each attribute
    in name order, length-prefixed name, length-prefixed data type, a transport
    byte (1 = string/number, 2 = binary), then the length-prefixed value."""
    h = hashlib.md5()
    for name in sorted(attrs):
        a = attrs[name]
        h.update(_framed(name.encode("utf-8")))
        h.update(_framed(a["DataType"].encode("utf-8")))
        if "StringValue" in a:
            h.update(b"\x01" + _framed(a["StringValue"].encode("utf-8")))
        else:
            h.update(b"\x02" + _framed(bytes(a["BinaryValue"])))
    return h.hexdigest()


def err(excinfo):
    return excinfo.value.response["Error"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def is_json(client):
    return client.meta.service_model.protocol == "json"


def new_queue(client, unique_name, **attributes):
    attrs = {k: str(v) for k, v in attributes.items()}
    return client.create_queue(QueueName=unique_name("q"), Attributes=attrs)["QueueUrl"]


def queue_attrs(client, url, *names):
    return client.get_queue_attributes(QueueUrl=url, AttributeNames=list(names) or ["All"])["Attributes"]


def receive(client, url, **kw):
    kw.setdefault("WaitTimeSeconds", 0)
    return client.receive_message(QueueUrl=url, **kw).get("Messages", [])


def receive_one(client, url, timeout=5.0, **kw):
    """Receive until one message arrives (short polls, so no long-poll semantics are assumed)."""
    msgs = wait_until(lambda: receive(client, url, **kw), timeout=timeout, interval=0.1)
    assert msgs, "expected a message"
    assert len(msgs) == 1
    return msgs[0]


def drain(client, url, count, timeout=10.0, **kw):
    """Receive (up to 10 at a time) until `count` distinct messages were seen."""
    seen = {}
    deadline = time.time() + timeout
    while len(seen) < count and time.time() < deadline:
        for m in receive(client, url, MaxNumberOfMessages=10, **kw):
            seen.setdefault(m["MessageId"], m)
    return list(seen.values())


def sys_attr_kwargs(client, names, param="AttributeNames"):
    """The query edition of the model only knows AttributeNames."""
    return {param if is_json(client) else "AttributeNames": names}


# Published reference digests for the attribute algorithm (npm package
# aws-md5-of-message-attributes, computed against SQS).
REFERENCE_VECTORS = [
    ({"attribName1": {"DataType": "String", "StringValue": "attribValue 1"}},
     "19e27d4e946b072f3f58da80d94fd778"),
    ({"customNumberTypeAttrib": {"DataType": "Number.float",
                                 "StringValue": "4563442423554324324264524243.32543234"}},
     "9fe1b90bbd9965bdf77bac517c7d2495"),
    ({"binaryAttribute": {"DataType": "Binary", "BinaryValue": b"Hello binary world!"}},
     "31a92b15d92f8db860eda32aceb656c3"),
    ({"attribName1": {"DataType": "String", "StringValue": "attribValue 1"},
      "customNumberTypeAttrib": {"DataType": "Number.float",
                                 "StringValue": "4563442423554324324264524243.32543234"},
      "binaryAttribute": {"DataType": "Binary", "BinaryValue": b"Hello binary world!"}},
     "c932db14a896c663f83c260297d594ff"),
]


@pytest.mark.parametrize("attrs,digest", REFERENCE_VECTORS)
def test_md5_helper_matches_published_digests(attrs, digest):
    # Guards the independent implementation the server is checked against below.
    assert md5_of_attributes(attrs) == digest


# ---------------------------------------------------------------- basics


def test_send_receive_delete(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    body = "héllo wörld ✓ \U0001F680 <xml>&amp;</xml>\t\r\n{\"json\": true}"
    sent = sqs_any.send_message(QueueUrl=url, MessageBody=body)
    assert sent["MD5OfMessageBody"] == md5_hex(body)
    assert "MD5OfMessageAttributes" not in sent
    assert "SequenceNumber" not in sent

    msg = receive_one(sqs_any, url)
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["Body"] == body
    assert msg["MD5OfBody"] == md5_hex(body)
    assert msg["ReceiptHandle"]
    assert "MessageAttributes" not in msg

    attrs = queue_attrs(sqs_any, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "1"}

    sqs_any.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    attrs = queue_attrs(sqs_any, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    assert attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert receive(sqs_any, url, VisibilityTimeout=0) == []


ALL_KINDS = {
    "str": {"DataType": "String", "StringValue": "plain ünïcode ✓"},
    "num": {"DataType": "Number", "StringValue": "-12345.678"},
    "bin": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
    "flt": {"DataType": "Number.float", "StringValue": "3.14159"},
    "gif": {"DataType": "Binary.gif", "BinaryValue": b"GIF89a\x01\x00\x01\x00\x00\xff\x00"},
    "cst": {"DataType": "String.custom-label", "StringValue": "x"},
}


def test_message_attributes_round_trip_with_md5(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    sent = sqs_any.send_message(QueueUrl=url, MessageBody="with attributes", MessageAttributes=ALL_KINDS)
    expected_md5 = md5_of_attributes(ALL_KINDS)
    assert sent["MD5OfMessageAttributes"] == expected_md5
    assert sent["MD5OfMessageBody"] == md5_hex("with attributes")

    msg = receive_one(sqs_any, url, MessageAttributeNames=["All"])
    assert msg["MessageAttributes"] == ALL_KINDS
    assert msg["MD5OfMessageAttributes"] == expected_md5
    assert md5_of_attributes(msg["MessageAttributes"]) == msg["MD5OfMessageAttributes"]


def test_message_system_attribute_aws_trace_header(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    system = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
    sent = sqs_any.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes=system)
    assert sent["MD5OfMessageSystemAttributes"] == md5_of_attributes(system)
    assert "MD5OfMessageAttributes" not in sent

    msg = receive_one(sqs_any, url, **sys_attr_kwargs(sqs_any, ["AWSTraceHeader"], "MessageSystemAttributeNames"))
    assert msg["Attributes"] == {"AWSTraceHeader": trace}


@pytest.mark.parametrize("param", ["AttributeNames", "MessageSystemAttributeNames"])
def test_receive_all_system_attributes(sqs_any, unique_name, param):
    if param == "MessageSystemAttributeNames" and not is_json(sqs_any):
        pytest.skip("the query edition of the model has no MessageSystemAttributeNames")
    url = new_queue(sqs_any, unique_name)
    before = int(time.time() * 1000)
    sqs_any.send_message(QueueUrl=url, MessageBody="attrs")
    after_send = int(time.time() * 1000)

    msg = receive_one(sqs_any, url, VisibilityTimeout=0, **{param: ["All"]})
    after_receive = int(time.time() * 1000)
    a = msg["Attributes"]
    for key in ("SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp", "SenderId"):
        assert key in a, key
    assert before - 1000 <= int(a["SentTimestamp"]) <= after_send + 1000
    assert int(a["SentTimestamp"]) <= int(a["ApproximateFirstReceiveTimestamp"]) <= after_receive + 1000
    assert a["ApproximateReceiveCount"] == "1"
    assert a["SenderId"]
    # FIFO-only attributes are absent on a standard queue.
    assert "SequenceNumber" not in a and "MessageGroupId" not in a

    again = receive_one(sqs_any, url, VisibilityTimeout=0, **{param: ["All"]})
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    # The first-receive timestamp does not move on later receives.
    assert again["Attributes"]["ApproximateFirstReceiveTimestamp"] == a["ApproximateFirstReceiveTimestamp"]


@pytest.mark.parametrize("param", ["AttributeNames", "MessageSystemAttributeNames"])
@pytest.mark.parametrize("names", [
    ["SentTimestamp"],
    ["ApproximateReceiveCount", "SenderId"],
    ["ApproximateFirstReceiveTimestamp"],
])
def test_receive_selected_system_attributes(sqs_any, unique_name, names, param):
    # The (deprecated) AttributeNames takes message system attribute names too,
    # as its documentation lists; older SDKs and the query protocol only have it.
    if param == "MessageSystemAttributeNames" and not is_json(sqs_any):
        pytest.skip("the query edition of the model has no MessageSystemAttributeNames")
    url = new_queue(sqs_any, unique_name)
    sqs_any.send_message(QueueUrl=url, MessageBody="x")
    msg = receive_one(sqs_any, url, **{param: names})
    assert set(msg["Attributes"]) == set(names)


def test_no_system_attributes_unless_asked(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    sqs_any.send_message(QueueUrl=url, MessageBody="x")
    assert "Attributes" not in receive_one(sqs_any, url)


FILTER_ATTRS = {
    "Hello": {"DataType": "String", "StringValue": "There"},
    "Help.Me": {"DataType": "String", "StringValue": "Me"},
    "General": {"DataType": "String", "StringValue": "Kenobi"},
}


@pytest.mark.parametrize("names,expected", [
    (["All"], {"Hello", "Help.Me", "General"}),
    ([".*"], {"Hello", "Help.Me", "General"}),
    (["Hello", "General"], {"Hello", "General"}),
    (["Hello", "DoesNotExist"], {"Hello"}),
    (["Help.*"], {"Help.Me"}),
    (["DoesNotExist"], set()),
    (None, set()),
])
def test_message_attribute_names_filter(sqs_any, unique_name, names, expected):
    url = new_queue(sqs_any, unique_name)
    sqs_any.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=FILTER_ATTRS)
    kw = {"MessageAttributeNames": names} if names is not None else {}
    msg = receive_one(sqs_any, url, **kw)
    got = msg.get("MessageAttributes", {})
    assert set(got) == expected
    assert got == {k: FILTER_ATTRS[k] for k in expected}
    if expected:
        # The digest covers exactly the attributes returned.
        assert msg["MD5OfMessageAttributes"] == md5_of_attributes(got)
    else:
        assert "MD5OfMessageAttributes" not in msg


# ---------------------------------------------------------------- receive limits


@pytest.mark.parametrize("n", [0, 11, -1])
def test_max_number_of_messages_out_of_range(sqs_any, unique_name, n):
    url = new_queue(sqs_any, unique_name)
    with pytest.raises(ClientError) as e:
        sqs_any.receive_message(QueueUrl=url, MaxNumberOfMessages=n)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == (
        f"Value {n} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.")
    assert status(e) == 400


def test_max_number_of_messages_caps_the_batch(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    for start in (0, 10):
        sqs_any.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"m{i}", "MessageBody": f"body-{i}"} for i in range(start, start + 10)])
    first = receive(sqs_any, url, MaxNumberOfMessages=10)
    assert 1 <= len(first) <= 10
    three = receive(sqs_any, url, MaxNumberOfMessages=3)
    assert len(three) <= 3
    default = receive(sqs_any, url)
    assert len(default) <= 1
    got = first + three + default
    rest = drain(sqs_any, url, 20 - len(got))
    bodies = [m["Body"] for m in got + rest]
    assert sorted(bodies) == sorted(f"body-{i}" for i in range(20))


@pytest.mark.parametrize("kw,param", [
    ({"WaitTimeSeconds": 21}, "WaitTimeSeconds"),
    ({"WaitTimeSeconds": -1}, "WaitTimeSeconds"),
    ({"VisibilityTimeout": 43201}, "VisibilityTimeout"),
    ({"VisibilityTimeout": -1}, "VisibilityTimeout"),
])
def test_receive_parameter_bounds(sqs_any, unique_name, kw, param):
    url = new_queue(sqs_any, unique_name)
    with pytest.raises(ClientError) as e:
        sqs_any.receive_message(QueueUrl=url, **kw)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert param in err(e)["Message"]


# ---------------------------------------------------------------- visibility


def test_visibility_timeout_redelivers_and_counts(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name, VisibilityTimeout=30)
    sent = sqs_any.send_message(QueueUrl=url, MessageBody="vt")
    first = receive_one(sqs_any, url, VisibilityTimeout=1, AttributeNames=["All"])
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    assert receive(sqs_any, url) == []  # hidden while in flight
    assert queue_attrs(sqs_any, url, "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessagesNotVisible": "1"}

    t0 = time.time()
    second = receive_one(sqs_any, url, timeout=5, AttributeNames=["All"])
    assert time.time() - t0 >= 0.5, "message reappeared well before its 1 s visibility timeout"
    assert second["MessageId"] == sent["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]


def test_queue_visibility_timeout_attribute_applies(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name, VisibilityTimeout=1)
    sqs_any.send_message(QueueUrl=url, MessageBody="q-vt")
    receive_one(sqs_any, url)
    assert receive(sqs_any, url) == []
    assert receive_one(sqs_any, url, timeout=5)["Body"] == "q-vt"


def test_change_message_visibility_to_zero_makes_message_visible(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    msg = receive_one_after_send(sqs_any, url, "cmv", VisibilityTimeout=300)
    assert receive(sqs_any, url) == []
    sqs_any.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
    again = receive(sqs_any, url, AttributeNames=["All"])
    assert [m["MessageId"] for m in again] == [msg["MessageId"]]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_change_message_visibility_extends_timeout(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    msg = receive_one_after_send(sqs_any, url, "extend", VisibilityTimeout=1)
    sqs_any.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=300)
    time.sleep(1.5)
    assert receive(sqs_any, url) == []
    # The (current) receipt handle still deletes the message.
    sqs_any.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])
    assert queue_attrs(sqs_any, url, "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessagesNotVisible": "0"}


def test_change_message_visibility_on_message_not_in_flight(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    msg = receive_one_after_send(sqs_any, url, "nif", VisibilityTimeout=300)
    sqs_any.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=0)
    # The message is visible again, so it is no longer in flight.
    with pytest.raises(ClientError) as e:
        sqs_any.change_message_visibility(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"], VisibilityTimeout=30)
    assert err(e)["Code"] == "AWS.SimpleQueueService.MessageNotInflight"
    assert status(e) == 400


@pytest.mark.parametrize("op", ["delete_message", "change_message_visibility"])
def test_invalid_receipt_handle(sqs_any, unique_name, op):
    url = new_queue(sqs_any, unique_name)
    kw = {"VisibilityTimeout": 10} if op == "change_message_visibility" else {}
    with pytest.raises(ClientError) as e:
        getattr(sqs_any, op)(QueueUrl=url, ReceiptHandle="not-a-receipt-handle", **kw)
    assert err(e)["Code"] == "ReceiptHandleIsInvalid"
    assert status(e) == 400


def receive_one_after_send(client, url, body, **kw):
    client.send_message(QueueUrl=url, MessageBody=body)
    return receive_one(client, url, **kw)


# ---------------------------------------------------------------- batches


def test_send_message_batch_success(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    attrs = {"n": {"DataType": "Number", "StringValue": "7"}}
    entries = [{"Id": f"id-{i}_x", "MessageBody": f"batch {i}"} for i in range(10)]
    entries[3]["MessageAttributes"] = attrs
    res = sqs_any.send_message_batch(QueueUrl=url, Entries=entries)
    assert res.get("Failed", []) == []
    ok = {r["Id"]: r for r in res["Successful"]}
    assert set(ok) == {e["Id"] for e in entries}
    for e in entries:
        assert ok[e["Id"]]["MD5OfMessageBody"] == md5_hex(e["MessageBody"])
    assert ok["id-3_x"]["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    assert "MD5OfMessageAttributes" not in ok["id-0_x"]
    assert len({r["MessageId"] for r in res["Successful"]}) == 10

    got = drain(sqs_any, url, 10, MessageAttributeNames=["All"])
    by_body = {m["Body"]: m for m in got}
    assert set(by_body) == {f"batch {i}" for i in range(10)}
    assert by_body["batch 3"]["MessageAttributes"] == attrs
    assert by_body["batch 3"]["MessageId"] == ok["id-3_x"]["MessageId"]


def test_send_message_batch_partial_failure(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    res = sqs_any.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "good1", "MessageBody": "fine"},
        {"Id": "bad", "MessageBody": "nul \u0000 inside"},
        {"Id": "good2", "MessageBody": "also fine"},
    ])
    assert sorted(r["Id"] for r in res["Successful"]) == ["good1", "good2"]
    assert len(res["Failed"]) == 1
    failed = res["Failed"][0]
    assert failed["Id"] == "bad"
    assert failed["SenderFault"] is True
    assert failed["Code"] == "InvalidMessageContents"
    assert sorted(m["Body"] for m in drain(sqs_any, url, 2)) == ["also fine", "fine"]


def test_delete_message_batch_with_one_invalid_handle(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    sqs_any.send_message_batch(QueueUrl=url, Entries=[{"Id": f"m{i}", "MessageBody": f"d{i}"} for i in range(3)])
    msgs = drain(sqs_any, url, 3, VisibilityTimeout=300)
    assert len(msgs) == 3
    keep = msgs[2]
    res = sqs_any.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": msgs[0]["ReceiptHandle"]},
        {"Id": "b", "ReceiptHandle": msgs[1]["ReceiptHandle"]},
        {"Id": "c", "ReceiptHandle": "garbage-receipt-handle"},
    ])
    assert sorted(r["Id"] for r in res["Successful"]) == ["a", "b"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in res["Failed"]] == [("c", "ReceiptHandleIsInvalid", True)]
    # Two deleted, the third still in flight.
    assert queue_attrs(sqs_any, url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "1"}
    sqs_any.change_message_visibility(QueueUrl=url, ReceiptHandle=keep["ReceiptHandle"], VisibilityTimeout=0)
    assert [m["MessageId"] for m in receive(sqs_any, url, MaxNumberOfMessages=10)] == [keep["MessageId"]]


def test_change_message_visibility_batch(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    sqs_any.send_message_batch(QueueUrl=url, Entries=[{"Id": f"m{i}", "MessageBody": f"c{i}"} for i in range(3)])
    msgs = drain(sqs_any, url, 3, VisibilityTimeout=300)
    assert len(msgs) == 3
    res = sqs_any.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "zero0", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "zero1", "ReceiptHandle": msgs[1]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "bogus", "ReceiptHandle": "garbage-receipt-handle", "VisibilityTimeout": 0},
    ])
    assert sorted(r["Id"] for r in res["Successful"]) == ["zero0", "zero1"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in res["Failed"]] == [("bogus", "ReceiptHandleIsInvalid", True)]
    back = drain(sqs_any, url, 2, timeout=3)
    assert {m["MessageId"] for m in back} == {msgs[0]["MessageId"], msgs[1]["MessageId"]}


def _entries(op, n, ids=None):
    ids = ids or [f"e{i}" for i in range(n)]
    if op == "send_message_batch":
        return [{"Id": i, "MessageBody": "b"} for i in ids]
    if op == "delete_message_batch":
        return [{"Id": i, "ReceiptHandle": "rh"} for i in ids]
    return [{"Id": i, "ReceiptHandle": "rh", "VisibilityTimeout": 0} for i in ids]


BATCH_OPS = ["send_message_batch", "delete_message_batch", "change_message_visibility_batch"]


@pytest.mark.parametrize("op", BATCH_OPS)
@pytest.mark.parametrize("case", ["too_many", "duplicate_ids", "empty", "bad_id_chars", "id_too_long"])
def test_batch_request_errors(sqs_any, unique_name, op, case):
    url = new_queue(sqs_any, unique_name)
    entries, code, message = {
        "too_many": (_entries(op, 11), "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                     "Maximum number of entries per request are 10. You have sent 11."),
        "duplicate_ids": (_entries(op, 2, ["same", "same"]), "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", None),
        "empty": ([], "AWS.SimpleQueueService.EmptyBatchRequest", None),
        "bad_id_chars": (_entries(op, 1, ["invalid:id"]), "AWS.SimpleQueueService.InvalidBatchEntryId",
                         "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                         "It can be at most 80 letters long."),
        "id_too_long": (_entries(op, 1, ["x" * 81]), "AWS.SimpleQueueService.InvalidBatchEntryId",
                        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                        "It can be at most 80 letters long."),
    }[case]
    with pytest.raises(ClientError) as e:
        getattr(sqs_any, op)(QueueUrl=url, Entries=entries)
    assert err(e)["Code"] == code
    if message:
        assert err(e)["Message"] == message
    assert status(e) == 400
    assert queue_attrs(sqs_any, url, "ApproximateNumberOfMessages") == {"ApproximateNumberOfMessages": "0"}


def test_batch_id_of_80_allowed_characters_is_accepted(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    ident = ("aZ09-_" * 14)[:80]
    res = sqs_any.send_message_batch(QueueUrl=url, Entries=[{"Id": ident, "MessageBody": "ok"}])
    assert [r["Id"] for r in res["Successful"]] == [ident]


def test_batch_total_over_1_mib_is_too_long(sqs_any, unique_name):
    # Every entry alone fits the queue; together they exceed the 1 MiB batch payload.
    url = new_queue(sqs_any, unique_name, MaximumMessageSize=262144)
    entries = [{"Id": f"big{i}", "MessageBody": "x" * 250_000} for i in range(5)]
    with pytest.raises(ClientError) as e:
        sqs_any.send_message_batch(QueueUrl=url, Entries=entries)
    assert err(e)["Code"] == "AWS.SimpleQueueService.BatchRequestTooLong"
    assert status(e) == 400
    assert queue_attrs(sqs_any, url, "ApproximateNumberOfMessages") == {"ApproximateNumberOfMessages": "0"}


def test_batch_total_between_256_kib_and_1_mib_is_accepted(sqs_any, unique_name):
    # The API reference: the maximum total payload of a batch is 1 MiB (1,048,576 bytes).
    url = new_queue(sqs_any, unique_name, MaximumMessageSize=1048576)
    entries = [{"Id": f"m{i}", "MessageBody": "y" * 200_000} for i in range(3)]
    res = sqs_any.send_message_batch(QueueUrl=url, Entries=entries)
    assert len(res["Successful"]) == 3 and not res.get("Failed")


# ---------------------------------------------------------------- size and contents


def _oversize_message(limit):
    return f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."


def test_message_size_limit_exact(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name, MaximumMessageSize=262144)
    sent = sqs_any.send_message(QueueUrl=url, MessageBody="a" * 262144)
    assert sent["MD5OfMessageBody"] == md5_hex("a" * 262144)
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody="a" * 262145)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == _oversize_message(262144)
    assert status(e) == 400
    msg = receive_one(sqs_any, url)
    assert len(msg["Body"]) == 262144


def test_message_attributes_count_toward_size(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name, MaximumMessageSize=262144)
    attr = {"k": {"DataType": "String", "StringValue": "v"}}  # 1 + 6 + 1 = 8 bytes
    sqs_any.send_message(QueueUrl=url, MessageBody="b" * (262144 - 8), MessageAttributes=attr)
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody="b" * (262144 - 7), MessageAttributes=attr)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == _oversize_message(262144)


def test_multibyte_body_size_is_counted_in_bytes(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name, MaximumMessageSize=1024)
    sqs_any.send_message(QueueUrl=url, MessageBody="é" * 512)  # 1024 bytes
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody="é" * 512 + "e")  # 1025 bytes, 513 chars
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == _oversize_message(1024)


def test_default_maximum_message_size_is_1_mib(sqs_any, unique_name):
    # API reference (CreateQueue, MaximumMessageSize): "Default: 1,048,576 bytes (1 MiB)".
    url = new_queue(sqs_any, unique_name)
    assert queue_attrs(sqs_any, url, "MaximumMessageSize") == {"MaximumMessageSize": "1048576"}
    sqs_any.send_message(QueueUrl=url, MessageBody="c" * 262145)
    sqs_any.send_message(QueueUrl=url, MessageBody="c" * 1048576)
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody="c" * 1048577)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == _oversize_message(1048576)


@pytest.mark.parametrize("body", ["nul \u0000", "bell \u0007", "\ufffe", "\uffff", "esc \u001b"])
def test_invalid_characters_are_rejected(sqs_any, unique_name, body):
    url = new_queue(sqs_any, unique_name)
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody=body)
    assert err(e)["Code"] == "InvalidMessageContents"
    assert status(e) == 400
    assert queue_attrs(sqs_any, url, "ApproximateNumberOfMessages") == {"ApproximateNumberOfMessages": "0"}


def test_boundary_characters_are_accepted(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    body = "\t\n\r \ud7ff\ue000\ufffd\U00010000\U0010ffff"
    sqs_any.send_message(QueueUrl=url, MessageBody=body)
    assert receive_one(sqs_any, url)["Body"] == body


def test_empty_body_is_rejected(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody="")
    assert err(e)["Code"] in ("MissingParameter", "InvalidParameterValue")
    assert status(e) == 400


# ---------------------------------------------------------------- delays


@pytest.mark.parametrize("where", ["queue", "message"])
def test_delayed_message_not_receivable_before_delay(sqs_any, unique_name, where):
    if where == "queue":
        url = new_queue(sqs_any, unique_name, DelaySeconds=2)
        sqs_any.send_message(QueueUrl=url, MessageBody="delayed")
    else:
        url = new_queue(sqs_any, unique_name)
        sqs_any.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=2)
        sqs_any.send_message(QueueUrl=url, MessageBody="immediate")
    sent_at = time.time()

    early = receive(sqs_any, url, MaxNumberOfMessages=10, VisibilityTimeout=300)
    assert [m["Body"] for m in early] == ([] if where == "queue" else ["immediate"])
    assert queue_attrs(sqs_any, url, "ApproximateNumberOfMessagesDelayed") == {
        "ApproximateNumberOfMessagesDelayed": "1"}

    msg = receive_one(sqs_any, url, timeout=6)
    assert msg["Body"] == "delayed"
    assert time.time() - sent_at >= 1.5
    assert queue_attrs(sqs_any, url, "ApproximateNumberOfMessagesDelayed") == {
        "ApproximateNumberOfMessagesDelayed": "0"}


def test_message_delay_zero_overrides_queue_delay(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name, DelaySeconds=60)
    sqs_any.send_message(QueueUrl=url, MessageBody="now", DelaySeconds=0)
    assert [m["Body"] for m in receive(sqs_any, url)] == ["now"]


@pytest.mark.parametrize("delay", [901, -1])
def test_message_delay_out_of_range(sqs_any, unique_name, delay):
    url = new_queue(sqs_any, unique_name)
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=delay)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert "DelaySeconds" in err(e)["Message"]


# ---------------------------------------------------------------- long polling


def test_long_poll_returns_soon_after_a_message_arrives(sqs_any, stratus, unique_name):
    url = new_queue(sqs_any, unique_name)
    sender = stratus.client("sqs")
    sent_at = {}

    def send_later():
        time.sleep(1.0)
        sender.send_message(QueueUrl=url, MessageBody="wake up")
        sent_at["t"] = time.time()

    th = threading.Thread(target=send_later)
    t0 = time.time()
    th.start()
    msgs = sqs_any.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    returned = time.time()
    th.join()
    assert [m["Body"] for m in msgs] == ["wake up"]
    assert returned - t0 >= 0.9, "returned before the message was sent"
    assert returned - sent_at["t"] < 0.5, f"returned {returned - sent_at['t']:.2f}s after the send"


@pytest.mark.parametrize("via", ["request", "queue_attribute"])
def test_long_poll_waits_then_returns_empty(sqs_any, unique_name, via):
    if via == "request":
        url = new_queue(sqs_any, unique_name)
        kw = {"WaitTimeSeconds": 2}
    else:
        url = new_queue(sqs_any, unique_name, ReceiveMessageWaitTimeSeconds=2)
        kw = {}
    t0 = time.time()
    res = sqs_any.receive_message(QueueUrl=url, **kw)
    elapsed = time.time() - t0
    assert res.get("Messages", []) == []
    assert 1.8 <= elapsed <= 4.0, elapsed


def test_short_poll_returns_immediately(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name, ReceiveMessageWaitTimeSeconds=20)
    t0 = time.time()
    assert receive(sqs_any, url, WaitTimeSeconds=0) == []
    assert time.time() - t0 < 1.0


# ---------------------------------------------------------------- retention and purge


@pytest.mark.parametrize("value,ok", [("59", False), ("60", True), ("1209600", True), ("1209601", False)])
def test_message_retention_period_bounds(sqs_any, unique_name, value, ok):
    name = unique_name("ret")
    if ok:
        url = sqs_any.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": value})["QueueUrl"]
        assert queue_attrs(sqs_any, url, "MessageRetentionPeriod") == {"MessageRetentionPeriod": value}
    else:
        with pytest.raises(ClientError) as e:
            sqs_any.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": value})
        assert err(e)["Code"] == "InvalidAttributeValue"
        assert "MessageRetentionPeriod" in err(e)["Message"]


@pytest.mark.slow
def test_messages_expire_after_retention_period(sqs, unique_name):
    # The one slow test (~62 s): the shortest retention AWS allows is 60 s.
    url = new_queue(sqs, unique_name, MessageRetentionPeriod=60)
    sqs.send_message(QueueUrl=url, MessageBody="old visible")
    sqs.send_message(QueueUrl=url, MessageBody="old in flight")
    t0 = time.time()
    in_flight = receive_one(sqs, url, VisibilityTimeout=300)
    time.sleep(30)
    sqs.send_message(QueueUrl=url, MessageBody="young")
    time.sleep(max(0.0, t0 + 62 - time.time()))

    # Both old messages (visible and in flight) are gone; the young one is not.
    assert wait_until(lambda: queue_attrs(sqs, url, "ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesNotVisible": "0"}, timeout=5), \
        queue_attrs(sqs, url)
    assert [m["Body"] for m in receive(sqs, url, MaxNumberOfMessages=10)] == ["young"]
    with pytest.raises(ClientError) as e:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=in_flight["ReceiptHandle"], VisibilityTimeout=0)
    assert err(e)["Code"] in ("ReceiptHandleIsInvalid", "InvalidParameterValue",
                              "AWS.SimpleQueueService.MessageNotInflight")


def test_purge_queue_removes_visible_and_in_flight_messages(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    sqs_any.send_message_batch(QueueUrl=url, Entries=[{"Id": f"p{i}", "MessageBody": f"p{i}"} for i in range(5)])
    in_flight = receive_one(sqs_any, url, VisibilityTimeout=1)
    sqs_any.purge_queue(QueueUrl=url)
    assert wait_until(lambda: queue_attrs(sqs_any, url, "ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, timeout=5)
    time.sleep(1.2)  # the purged in-flight message must not come back
    assert receive(sqs_any, url, MaxNumberOfMessages=10) == []
    # The queue still works after a purge.
    sqs_any.send_message(QueueUrl=url, MessageBody="after purge")
    assert receive_one(sqs_any, url)["Body"] == "after purge"
    assert in_flight["Body"].startswith("p")


def test_second_purge_within_60_seconds_is_refused(sqs_any, unique_name):
    url = new_queue(sqs_any, unique_name)
    sqs_any.purge_queue(QueueUrl=url)
    with pytest.raises(ClientError) as e:
        sqs_any.purge_queue(QueueUrl=url)
    assert err(e)["Code"] == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert status(e) == 403


@pytest.mark.parametrize("op,kw", [
    ("send_message", {"MessageBody": "x"}),
    ("receive_message", {}),
    ("delete_message", {"ReceiptHandle": "rh"}),
    ("purge_queue", {}),
])
def test_operations_on_missing_queue(sqs_any, stratus, op, kw):
    url = f"{stratus.endpoint}/000000000000/no-such-queue-{op}"
    with pytest.raises(ClientError) as e:
        getattr(sqs_any, op)(QueueUrl=url, **kw)
    assert err(e)["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert status(e) == 400
