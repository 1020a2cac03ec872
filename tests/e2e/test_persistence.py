"""Durability of SQS state in the sqlite store: SIGKILL and SIGTERM restarts of
the real binary on the same port and data directory, driven by boto3.

Everything the server acknowledged before a crash must be there afterwards,
in the same state: queues, attributes, tags, messages (with attributes, receive
counts, visibility and delay deadlines), FIFO order and deduplication."""
import json
import signal
import threading
import time

import pytest

from conftest import wait_until
from sqs_helpers import (
    COMPUTED, NON_EXISTENT_QUEUE, counts, drain, expect_error, get_attrs, md5_hex,
    md5_of_message_attributes, queue_arn,
)

# Long enough to survive a kill + restart on a busy 2-core machine, short
# enough to keep the test quick.
HOLD = 10


def static_attrs(client, url):
    return {k: v for k, v in get_attrs(client, url).items() if k not in COMPUTED}


def receive_all(client, url, visibility=60, attempts=3):
    """Receive (without deleting) everything visible right now."""
    out, empty = {}, 0
    while empty < attempts:
        msgs = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=visibility,
                                      WaitTimeSeconds=0, AttributeNames=["All"],
                                      MessageAttributeNames=["All"]).get("Messages", [])
        if not msgs:
            empty += 1
        for m in msgs:
            assert m["MessageId"] not in out, "a message was delivered twice while in flight"
            out[m["MessageId"]] = m
    return out


def test_kill9_preserves_queues_and_messages(fresh_stratus, unique_name):
    s = fresh_stratus()
    c = s.client("sqs")
    base = unique_name("crash")

    # --- queues, attributes, tags
    dlq_name = f"{base}-dlq"
    dlq = c.create_queue(QueueName=dlq_name, Attributes={"MessageRetentionPeriod": "86400"})["QueueUrl"]
    src = c.create_queue(QueueName=f"{base}-src", Attributes={
        "VisibilityTimeout": "30", "MaximumMessageSize": "4096", "DelaySeconds": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": 2}),
    }, tags={"env": "prod", "team": "core"})["QueueUrl"]
    fifo = c.create_queue(QueueName=f"{base}.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"}, tags={"kind": "fifo"})["QueueUrl"]
    c.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "allowAll"})})
    c.add_permission(QueueUrl=dlq, Label="share", AWSAccountIds=["111111111111"], Actions=["SendMessage"])
    west = s.client("sqs", access_key="111111111111", region="eu-west-1")
    west_url = west.create_queue(QueueName=f"{base}-west", tags={"where": "eu"})["QueueUrl"]
    west.send_message(QueueUrl=west_url, MessageBody="bonjour")

    # --- standard queue: 10 messages, all received once, then sorted into roles
    mattrs = {"n": {"DataType": "Number", "StringValue": "7"},
              "s": {"DataType": "String", "StringValue": "val"},
              "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"}}
    ids = {}
    for i in range(10):
        kw = {"MessageAttributes": mattrs} if i % 2 == 0 else {}
        ids[f"m{i}"] = c.send_message(QueueUrl=src, MessageBody=f"m{i}", **kw)["MessageId"]
    first = receive_all(c, src)
    assert sorted(m["Body"] for m in first.values()) == sorted(ids)
    by_body = {m["Body"]: m for m in first.values()}
    inflight = ["m0", "m1", "m2"]                      # still in flight at the crash
    deleted = ["m5"]                                   # acknowledged deletes
    returned = ["m3", "m4", "m6", "m7", "m8", "m9"]    # received once, visible again
    for b in deleted:
        c.delete_message(QueueUrl=src, ReceiptHandle=by_body[b]["ReceiptHandle"])
    for b in returned:
        c.change_message_visibility(QueueUrl=src, ReceiptHandle=by_body[b]["ReceiptHandle"], VisibilityTimeout=0)
    # Never received; one of them with attributes.
    for i in range(3):
        kw = {"MessageAttributes": mattrs} if i == 0 else {}
        ids[f"fresh{i}"] = c.send_message(QueueUrl=src, MessageBody=f"fresh{i}", **kw)["MessageId"]
    fresh = ["fresh0", "fresh1", "fresh2"]

    # --- FIFO: group g1 a1..a4 (a1 consumed, a2 received once and returned), then g2 b1..b2
    fifo_seq = {}

    def fifo_send(body, group):
        fifo_seq[body] = int(c.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId=group)["SequenceNumber"])

    for body in ["a1", "a2", "a3", "a4"]:
        fifo_send(body, "g1")
    [a1] = c.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1)["Messages"]
    assert a1["Body"] == "a1"
    c.delete_message(QueueUrl=fifo, ReceiptHandle=a1["ReceiptHandle"])
    [a2] = c.receive_message(QueueUrl=fifo, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
    assert a2["Body"] == "a2"
    c.change_message_visibility(QueueUrl=fifo, ReceiptHandle=a2["ReceiptHandle"], VisibilityTimeout=0)
    for body in ["b1", "b2"]:
        fifo_send(body, "g2")

    # --- deadlines last, so they are as far in the future as possible at the restart
    t_hold = time.time()
    for b in inflight:
        c.change_message_visibility(QueueUrl=src, ReceiptHandle=by_body[b]["ReceiptHandle"], VisibilityTimeout=HOLD)
    for i in range(2):
        ids[f"delayed{i}"] = c.send_message(QueueUrl=src, MessageBody=f"delayed{i}", DelaySeconds=HOLD)["MessageId"]
    delayed = ["delayed0", "delayed1"]

    snapshot = {u: static_attrs(c, u) for u in (dlq, src, fifo)}
    snapshot_west = static_attrs(west, west_url)
    assert counts(c, src) == (len(returned) + len(fresh), len(inflight), len(delayed))

    # --- crash
    assert s.kill9() == -signal.SIGKILL
    s.start()

    # Queues, attributes and tags are all back.
    assert sorted(c.list_queues(QueueNamePrefix=base)["QueueUrls"]) == sorted([dlq, src, fifo])
    for u, attrs in snapshot.items():
        assert static_attrs(c, u) == attrs
    assert c.list_queue_tags(QueueUrl=src)["Tags"] == {"env": "prod", "team": "core"}
    assert c.list_queue_tags(QueueUrl=fifo)["Tags"] == {"kind": "fifo"}
    assert c.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    assert static_attrs(west, west_url) == snapshot_west
    assert west.list_queue_tags(QueueUrl=west_url)["Tags"] == {"where": "eu"}
    expect_error(c.get_queue_url, NON_EXISTENT_QUEUE, QueueName=f"{base}-west")

    still_holding = time.time() < t_hold + HOLD - 1
    if still_holding:
        assert counts(c, src) == (len(returned) + len(fresh), len(inflight), len(delayed))

    # An in-flight message keeps its receipt handle across the crash.
    c.delete_message(QueueUrl=src, ReceiptHandle=by_body["m0"]["ReceiptHandle"])

    # Visible now: the returned messages (2nd receive) and the fresh ones (1st).
    now = receive_all(c, src)
    got = {m["Body"]: m for m in now.values()}
    if still_holding:
        assert sorted(got) == sorted(returned + fresh)
    else:  # the machine was too slow to see the in-flight/delayed ones hidden
        assert set(returned + fresh) <= set(got) <= set(returned + fresh + inflight + delayed) - {"m0"}
    for b in returned + fresh:
        m = got[b]
        assert m["MessageId"] == ids[b]
        assert m["MD5OfBody"] == md5_hex(b)
        assert m["Attributes"]["ApproximateReceiveCount"] == ("2" if b in returned else "1")
    for b in returned:
        assert got[b]["Attributes"]["SentTimestamp"] == by_body[b]["Attributes"]["SentTimestamp"]
        assert (got[b]["Attributes"]["ApproximateFirstReceiveTimestamp"]
                == by_body[b]["Attributes"]["ApproximateFirstReceiveTimestamp"])
    for b in ["m4", "m6", "m8", "fresh0"]:
        assert got[b]["MessageAttributes"] == mattrs
        assert got[b]["MD5OfMessageAttributes"] == md5_of_message_attributes(mattrs)
    for b in ["m3", "fresh1"]:
        assert "MessageAttributes" not in got[b]

    # In-flight messages reappear when their visibility timeout ends, delayed
    # ones when their delay ends; neither earlier.
    late = {}

    def collect():
        for m in c.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                   WaitTimeSeconds=0, AttributeNames=["All"]).get("Messages", []):
            late[m["Body"]] = (m, time.time())
        return {"m1", "m2", *delayed} <= set(late) | set(got)

    assert wait_until(collect, timeout=HOLD + 10, interval=0.25), late.keys()
    for b in ["m1", "m2", *delayed]:
        if b in late:
            m, seen_at = late[b]
            assert seen_at >= t_hold + HOLD - 1, f"{b} visible {t_hold + HOLD - seen_at:.1f}s early"
            assert m["MessageId"] == ids[b]
            assert m["Attributes"]["ApproximateReceiveCount"] == ("2" if b in inflight else "1")
    # The deleted message (m5, and m0 deleted with its pre-crash handle) never returns.
    assert "m5" not in late and "m0" not in late

    # The receive count survived: a third receive of m3 exceeds maxReceiveCount=2
    # and moves it to the dead-letter queue instead of delivering it.
    c.change_message_visibility(QueueUrl=src, ReceiptHandle=got["m3"]["ReceiptHandle"], VisibilityTimeout=0)
    assert c.receive_message(QueueUrl=src, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []) == []
    moved = wait_until(lambda: c.receive_message(QueueUrl=dlq, AttributeNames=["All"]).get("Messages"), timeout=5)
    assert [m["Body"] for m in moved] == ["m3"]
    assert moved[0]["MessageId"] == ids["m3"]

    # Unrelated account/region queue kept its message.
    assert [m["Body"] for m in west.receive_message(QueueUrl=west_url)["Messages"]] == ["bonjour"]

    # FIFO: order within each group, receive counts, dedup history and sequence numbers survive.
    dup = c.send_message(QueueUrl=fifo, MessageBody="b2", MessageGroupId="g2")   # duplicate of b2
    assert dup["MessageId"]
    b3 = c.send_message(QueueUrl=fifo, MessageBody="b3", MessageGroupId="g2")
    assert int(b3["SequenceNumber"]) > max(fifo_seq.values())
    groups = {}
    for m in drain(c, fifo, AttributeNames=["All"]):
        groups.setdefault(m["Attributes"]["MessageGroupId"], []).append(m)
    assert [m["Body"] for m in groups["g1"]] == ["a2", "a3", "a4"]
    assert [m["Body"] for m in groups["g2"]] == ["b1", "b2", "b3"]
    assert groups["g1"][0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert groups["g1"][1]["Attributes"]["ApproximateReceiveCount"] == "1"
    for m in groups["g1"] + groups["g2"][:2]:
        assert int(m["Attributes"]["SequenceNumber"]) == fifo_seq[m["Body"]]


@pytest.mark.parametrize("how", ["kill9", "sigterm"])
def test_visibility_reset_survives_restart(fresh_stratus, unique_name, how):
    """A message handed back with ChangeMessageVisibility(0) is visible, and
    stays visible (not delayed, not in flight) after a restart."""
    s = fresh_stratus()
    c = s.client("sqs")
    url = c.create_queue(QueueName=unique_name("reset"))["QueueUrl"]
    mid = c.send_message(QueueUrl=url, MessageBody="back")["MessageId"]
    [m] = c.receive_message(QueueUrl=url, VisibilityTimeout=120)["Messages"]
    c.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    assert counts(c, url) == (1, 0, 0)
    if how == "kill9":
        assert s.kill9() == -signal.SIGKILL
    else:
        assert s.stop() == 0, s.log()
    s.start()
    assert counts(c, url) == (1, 0, 0)
    [again] = c.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert again["MessageId"] == mid
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_graceful_restart_preserves_state(fresh_stratus, unique_name):
    s = fresh_stratus()
    c = s.client("sqs", protocol="query")
    name = unique_name("term")
    url = c.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60", "DelaySeconds": "0"},
                         tags={"a": "b"})["QueueUrl"]
    c.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "7200"})
    ids = [c.send_message(QueueUrl=url, MessageBody=f"g{i}")["MessageId"] for i in range(4)]
    [held] = c.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    c.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=900)
    before = static_attrs(c, url)

    assert s.stop() == 0, s.log()
    s.start()

    assert static_attrs(c, url) == before
    assert before["MessageRetentionPeriod"] == "7200"
    assert c.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "b"}
    assert counts(c, url) == (3, 1, 1)
    rest = receive_all(c, url)
    assert set(rest) == set(ids) - {held["MessageId"]}
    assert all(m["Attributes"]["ApproximateReceiveCount"] == "1" for m in rest.values())
    c.delete_message(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"])
    assert counts(c, url) == (0, 3, 1)

    # A crash after a graceful restart loses nothing either.
    assert s.kill9() == -signal.SIGKILL
    s.start()
    assert counts(c, url) == (0, 3, 1)
    assert c.get_queue_url(QueueName=name)["QueueUrl"] == url


def test_concurrent_writers_survive_kill9(fresh_stratus, unique_name):
    s = fresh_stratus()
    setup = s.client("sqs")
    url = setup.create_queue(QueueName=unique_name("burst"))["QueueUrl"]
    lock = threading.Lock()
    acked, attempted, bad_md5 = {}, set(), []
    stop = threading.Event()

    def writer(w):
        client = s.client("sqs", protocol="json" if w % 2 else "query")
        i = 0
        while not stop.is_set():
            batch = w % 3 == 0
            bodies = [f"w{w}-{i}-{k}" for k in range(10 if batch else 1)]
            i += 1
            with lock:
                attempted.update(bodies)
            try:
                if batch:
                    r = client.send_message_batch(QueueUrl=url, Entries=[
                        {"Id": str(k), "MessageBody": b} for k, b in enumerate(bodies)])
                    entries = [(e, bodies[int(e["Id"])]) for e in r.get("Successful", [])]
                else:
                    r = client.send_message(QueueUrl=url, MessageBody=bodies[0])
                    entries = [(r, bodies[0])]
            except Exception:
                time.sleep(0.01)
                continue
            with lock:
                for e, body in entries:
                    acked[e["MessageId"]] = body
                    if e["MD5OfMessageBody"] != md5_hex(body):
                        bad_md5.append(body)

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(6)]
    for t in threads:
        t.start()
    assert wait_until(lambda: len(acked) >= 500, timeout=60), len(acked)
    assert s.kill9() == -signal.SIGKILL
    stop.set()
    for t in threads:
        t.join(timeout=30)
    acked_at_kill = dict(acked)
    assert bad_md5 == []

    s.start()
    received = {}
    for m in drain(s.client("sqs"), url, visibility=120):
        assert m["MessageId"] not in received, "message delivered twice"
        received[m["MessageId"]] = m["Body"]
    missing = {mid: b for mid, b in acked_at_kill.items() if mid not in received}
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {list(missing.items())[:3]}"
    for mid, body in acked_at_kill.items():
        assert received[mid] == body
    # Anything extra must be a send whose response the crash swallowed.
    assert set(received.values()) <= attempted


def test_memory_store_forgets_on_restart(fresh_stratus, unique_name):
    s = fresh_stratus(store="memory")
    c = s.client("sqs")
    name = unique_name("mem")
    url = c.create_queue(QueueName=name, tags={"x": "y"})["QueueUrl"]
    c.send_message(QueueUrl=url, MessageBody="gone")
    assert c.list_queues(QueueNamePrefix=name)["QueueUrls"] == [url]
    assert s.restart() is s
    assert c.list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []
    expect_error(c.get_queue_url, NON_EXISTENT_QUEUE, QueueName=name)
    expect_error(c.receive_message, NON_EXISTENT_QUEUE, QueueUrl=url)
