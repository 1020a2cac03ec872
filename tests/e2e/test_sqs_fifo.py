"""SQS FIFO queues end to end: ordering per message group, group locking,
deduplication, sequence numbers, FIFO-only validation and high-throughput
attributes, driven by boto3 over both SQS protocols."""
import hashlib
import time

import pytest
from botocore.exceptions import ClientError

from conftest import wait_until


def err(excinfo):
    return excinfo.value.response["Error"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def fifo(sqs_any, unique_name):
    """Factory: a FIFO queue with the given extra attributes; returns its URL."""
    def make(**attributes):
        attrs = {"FifoQueue": "true", **{k: str(v) for k, v in attributes.items()}}
        return sqs_any.create_queue(QueueName=unique_name("f") + ".fifo", Attributes=attrs)["QueueUrl"]
    return make


def send(client, url, body, group="g", dedup=None, **kw):
    kw["MessageGroupId"] = group
    kw["MessageDeduplicationId"] = dedup if dedup is not None else hashlib.sha1(body.encode()).hexdigest()
    return client.send_message(QueueUrl=url, MessageBody=body, **kw)


def receive(client, url, **kw):
    kw.setdefault("WaitTimeSeconds", 0)
    kw.setdefault("MaxNumberOfMessages", 10)
    return client.receive_message(QueueUrl=url, **kw).get("Messages", [])


def bodies(msgs):
    return [m["Body"] for m in msgs]


def test_order_is_kept_within_each_group(sqs_any, fifo):
    url = fifo()
    for i in range(10):
        for group in ("A", "B"):
            send(sqs_any, url, f"{group}{i}", group=group)

    got = {"A": [], "B": []}
    deadline = time.time() + 10
    while sum(map(len, got.values())) < 20 and time.time() < deadline:
        msgs = receive(sqs_any, url)
        for m in msgs:
            got[m["Body"][0]].append(m["Body"])
        if msgs:
            sqs_any.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)])
    assert got["A"] == [f"A{i}" for i in range(10)]
    assert got["B"] == [f"B{i}" for i in range(10)]


def test_batch_send_keeps_order(sqs_any, fifo):
    url = fifo()
    entries = [{"Id": f"e{i}", "MessageBody": f"m{i}", "MessageGroupId": "one",
                "MessageDeduplicationId": f"d{i}"} for i in range(10)]
    res = sqs_any.send_message_batch(QueueUrl=url, Entries=entries)
    assert len(res["Successful"]) == 10
    seqs = {r["Id"]: int(r["SequenceNumber"]) for r in res["Successful"]}
    assert [seqs[f"e{i}"] for i in range(10)] == sorted(seqs.values())
    got = []
    deadline = time.time() + 10
    while len(got) < 10 and time.time() < deadline:
        msgs = receive(sqs_any, url)
        got += bodies(msgs)
        for m in msgs:
            sqs_any.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert got == [f"m{i}" for i in range(10)]


def test_in_flight_message_locks_its_group(sqs_any, fifo):
    url = fifo()
    send(sqs_any, url, "a1", group="A")
    send(sqs_any, url, "a2", group="A")
    send(sqs_any, url, "b1", group="B")

    first = receive(sqs_any, url, MaxNumberOfMessages=1, VisibilityTimeout=300)
    assert bodies(first) == ["a1"]
    # Group A is locked while a1 is in flight; other groups are still served.
    second = receive(sqs_any, url, VisibilityTimeout=300)
    assert bodies(second) == ["b1"]
    assert receive(sqs_any, url) == []

    sqs_any.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert bodies(receive(sqs_any, url)) == ["a2"]


def test_group_unlocks_when_visibility_expires_and_redelivers_first(sqs_any, fifo):
    url = fifo()
    send(sqs_any, url, "x1", group="X")
    send(sqs_any, url, "x2", group="X")
    assert bodies(receive(sqs_any, url, MaxNumberOfMessages=1, VisibilityTimeout=1)) == ["x1"]
    assert receive(sqs_any, url) == []
    msgs = wait_until(lambda: receive(sqs_any, url, MaxNumberOfMessages=1), timeout=5, interval=0.1)
    # The failed x1 comes back before x2: order survives a retry.
    assert bodies(msgs) == ["x1"]


def test_explicit_deduplication_id(sqs_any, fifo):
    url = fifo()
    first = send(sqs_any, url, "original", dedup="same-id")
    dup = send(sqs_any, url, "a different body", dedup="same-id")
    assert dup["MessageId"] == first["MessageId"]
    assert dup["SequenceNumber"] == first["SequenceNumber"]
    other = send(sqs_any, url, "original", dedup="other-id")
    assert other["MessageId"] != first["MessageId"]

    msgs = receive(sqs_any, url, MaxNumberOfMessages=1)
    assert bodies(msgs) == ["original"]
    assert msgs[0]["MessageId"] == first["MessageId"]
    for m in msgs:
        sqs_any.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    rest = receive(sqs_any, url)
    assert [m["MessageId"] for m in rest] == [other["MessageId"]]


def test_deduplicated_message_not_delivered_again_after_delete(sqs_any, fifo):
    url = fifo()
    send(sqs_any, url, "once", dedup="d-1")
    msgs = receive(sqs_any, url)
    assert bodies(msgs) == ["once"]
    sqs_any.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
    # Within the 5-minute deduplication interval the id is still remembered.
    send(sqs_any, url, "once", dedup="d-1")
    assert receive(sqs_any, url) == []


def test_content_based_deduplication(sqs_any, fifo):
    url = fifo(ContentBasedDeduplication="true")
    a = sqs_any.send_message(QueueUrl=url, MessageBody="content", MessageGroupId="g")
    b = sqs_any.send_message(QueueUrl=url, MessageBody="content", MessageGroupId="g")
    # Only the body is hashed: attributes don't make a message distinct.
    c = sqs_any.send_message(QueueUrl=url, MessageBody="content", MessageGroupId="g",
                             MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    d = sqs_any.send_message(QueueUrl=url, MessageBody="other content", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"] == c["MessageId"]
    assert d["MessageId"] != a["MessageId"]
    # An explicit id overrides the content hash.
    e = sqs_any.send_message(QueueUrl=url, MessageBody="content", MessageGroupId="g", MessageDeduplicationId="x")
    assert e["MessageId"] != a["MessageId"]

    got = []
    for _ in range(3):
        msgs = receive(sqs_any, url, AttributeNames=["All"])
        got += msgs
        for m in msgs:
            sqs_any.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert bodies(got) == ["content", "other content", "content"]
    dedup_ids = [m["Attributes"]["MessageDeduplicationId"] for m in got]
    assert dedup_ids[2] == "x"
    assert dedup_ids[0] and dedup_ids[1] and dedup_ids[0] != dedup_ids[1]


def test_sequence_numbers(sqs_any, fifo):
    url = fifo()
    sent = [send(sqs_any, url, f"s{i}", group="G" if i % 2 else "H") for i in range(6)]
    seqs = [int(s["SequenceNumber"]) for s in sent]
    assert all(s["SequenceNumber"].isdigit() for s in sent)
    assert seqs == sorted(seqs) and len(set(seqs)) == 6

    got = {}
    for _ in range(10):
        msgs = receive(sqs_any, url, AttributeNames=["All"])
        for m in msgs:
            got[m["MessageId"]] = m["Attributes"]
            sqs_any.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if len(got) == 6:
            break
    for s in sent:
        a = got[s["MessageId"]]
        assert a["SequenceNumber"] == s["SequenceNumber"]
        assert a["MessageGroupId"] in ("G", "H")
        assert a["MessageDeduplicationId"]


def test_message_group_id_is_required(sqs_any, fifo):
    url = fifo(ContentBasedDeduplication="true")
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody="no group")
    assert err(e)["Code"] == "MissingParameter"
    assert err(e)["Message"] == "The request must contain the parameter MessageGroupId."
    assert status(e) == 400


def test_message_group_id_is_required_in_batches(sqs_any, fifo):
    url = fifo(ContentBasedDeduplication="true")
    with pytest.raises(ClientError) as e:
        sqs_any.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "no group"}])
    # Recorded against AWS: the whole batch is refused.
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == "The request must contain the parameter MessageGroupId."


def test_deduplication_id_required_without_content_based_deduplication(sqs_any, fifo):
    url = fifo()
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody="no dedup", MessageGroupId="g")
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == (
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
    assert status(e) == 400


def test_per_message_delay_is_rejected(sqs_any, fifo):
    url = fifo(ContentBasedDeduplication="true")
    with pytest.raises(ClientError) as e:
        sqs_any.send_message(QueueUrl=url, MessageBody="delayed", MessageGroupId="g", DelaySeconds=2)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == ("Value 2 for parameter DelaySeconds is invalid. Reason: The request include "
                                 "parameter that is not valid for this queue type.")


def test_queue_level_delay_applies_to_fifo(sqs_any, fifo):
    url = fifo(ContentBasedDeduplication="true", DelaySeconds=1)
    sqs_any.send_message(QueueUrl=url, MessageBody="later", MessageGroupId="g")
    assert receive(sqs_any, url) == []
    msgs = wait_until(lambda: receive(sqs_any, url), timeout=5, interval=0.1)
    assert bodies(msgs) == ["later"]


def test_receive_request_attempt_id_returns_same_messages(sqs_any, fifo):
    url = fifo()
    for i in range(3):
        send(sqs_any, url, f"r{i}", group="R")
    first = receive(sqs_any, url, ReceiveRequestAttemptId="attempt-1", VisibilityTimeout=60)
    assert bodies(first) == ["r0", "r1", "r2"]
    retry = receive(sqs_any, url, ReceiveRequestAttemptId="attempt-1", VisibilityTimeout=60)
    assert [m["MessageId"] for m in retry] == [m["MessageId"] for m in first]
    assert [m["ReceiptHandle"] for m in retry] == [m["ReceiptHandle"] for m in first]
    # A new attempt sees the group locked.
    assert receive(sqs_any, url, ReceiveRequestAttemptId="attempt-2") == []


def test_high_throughput_attributes(sqs_any, fifo):
    url = fifo(DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId")
    attrs = sqs_any.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["FifoQueue"] == "true"
    assert attrs["DeduplicationScope"] == "messageGroup"
    assert attrs["FifoThroughputLimit"] == "perMessageGroupId"
    assert attrs["ContentBasedDeduplication"] == "false"

    # Deduplication is scoped to the group: the same id in two groups is two messages.
    a = send(sqs_any, url, "one", group="g1", dedup="shared")
    b = send(sqs_any, url, "two", group="g2", dedup="shared")
    assert a["MessageId"] != b["MessageId"]
    again = send(sqs_any, url, "three", group="g1", dedup="shared")
    assert again["MessageId"] == a["MessageId"]
    assert sorted(bodies(receive(sqs_any, url))) == ["one", "two"]


def test_default_fifo_attributes(sqs_any, fifo):
    url = fifo()
    attrs = sqs_any.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["DeduplicationScope"] == "queue"
    assert attrs["FifoThroughputLimit"] == "perQueue"
    assert attrs["ContentBasedDeduplication"] == "false"
