"""Lambda event source mappings for SQS, and the DLQ-replay-with-backoff scenario."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import wait_until
from lambda_fixtures.helpers import create_function, zip_files

RECORDER = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    out = os.environ["OUT_QUEUE"]
    failures = []
    for r in event["Records"]:
        body = r["body"]
        if body.startswith("fail"):
            failures.append({"itemIdentifier": r["messageId"]})
    sqs.send_message(QueueUrl=out, MessageBody=json.dumps({"size": len(event["Records"]), "records": event["Records"]}))
    if os.environ.get("PARTIAL") == "1":
        return {"batchItemFailures": failures}
    if failures:
        raise Exception("batch failed")
    return "ok"
"""


@pytest.fixture
def lam(stratus):
    return stratus.client("lambda")


@pytest.fixture
def sqs(stratus):
    return stratus.client("sqs")


def queue(sqs, name, **attrs):
    url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def drain(sqs, url, timeout=15, want=1):
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline and len(got) < want:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def test_mapping_lifecycle_and_validation(lam, sqs, unique_name):
    _, arn = queue(sqs, unique_name("src"))
    name = unique_name("fn")
    create_function(lam, name, zip_files({"app.py": "def handler(e, c):\n    return 1\n"}))
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=100)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "Maximum batch window" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10001,
                                        MaximumBatchingWindowInSeconds=1)
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=arn + "-missing", FunctionName=name)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, BatchSize=50,
                                        MaximumBatchingWindowInSeconds=2, ScalingConfig={"MaximumConcurrency": 2})
    assert m["State"] == "Creating" and m["BatchSize"] == 50
    assert m["FunctionArn"].endswith(f":function:{name}")
    assert m["EventSourceMappingArn"].endswith(m["UUID"])
    got = lam.get_event_source_mapping(UUID=m["UUID"])
    assert got["State"] == "Enabled" and got["ScalingConfig"] == {"MaximumConcurrency": 2}
    upd = lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
    assert upd["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled"
    assert [x["UUID"] for x in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]] == [m["UUID"]]
    assert lam.delete_event_source_mapping(UUID=m["UUID"])["State"] == "Deleting"
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=m["UUID"])
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_sqs_event_payload_and_deletion(lam, sqs, unique_name):
    src_url, src_arn = queue(sqs, unique_name("src"))
    out_url, _ = queue(sqs, unique_name("out"))
    name = unique_name("rec")
    create_function(lam, name, zip_files({"app.py": RECORDER}), Environment={"Variables": {"OUT_QUEUE": out_url}})
    lam.create_event_source_mapping(EventSourceArn=src_arn, FunctionName=name, BatchSize=10)
    sqs.send_message(QueueUrl=src_url, MessageBody="hello",
                     MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}})
    batch = drain(sqs, out_url)[0]
    r = batch["records"][0]
    assert r["body"] == "hello" and r["eventSource"] == "aws:sqs"
    assert r["eventSourceARN"] == src_arn and r["awsRegion"] == "us-east-1"
    assert set(["ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"]) <= set(r["attributes"])
    assert r["messageAttributes"]["kind"] == {"stringValue": "greeting", "stringListValues": [],
                                              "binaryListValues": [], "dataType": "String"}
    assert r["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    assert r["receiptHandle"] and r["messageId"]
    # Deleted after success.
    wait_until(lambda: sqs.get_queue_attributes(QueueUrl=src_url, AttributeNames=["All"])["Attributes"]
               ["ApproximateNumberOfMessagesNotVisible"] == "0", timeout=5)
    attrs = sqs.get_queue_attributes(QueueUrl=src_url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_partial_batch_failures_reach_dlq(lam, sqs, unique_name):
    dlq_url, dlq_arn = queue(sqs, unique_name("dlq"))
    # The visibility timeout must outlast a batch (window + invoke), as AWS advises.
    src_url, src_arn = queue(sqs, unique_name("src"), VisibilityTimeout=3,
                             RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    out_url, _ = queue(sqs, unique_name("out"))
    name = unique_name("partial")
    create_function(lam, name, zip_files({"app.py": RECORDER}),
                    Environment={"Variables": {"OUT_QUEUE": out_url, "PARTIAL": "1"}})
    lam.create_event_source_mapping(EventSourceArn=src_arn, FunctionName=name, BatchSize=10,
                                    MaximumBatchingWindowInSeconds=1, FunctionResponseTypes=["ReportBatchItemFailures"])
    sqs.send_message_batch(QueueUrl=src_url, Entries=[
        {"Id": "1", "MessageBody": "good-1"}, {"Id": "2", "MessageBody": "fail-2"}, {"Id": "3", "MessageBody": "good-3"}])

    def dead():
        msgs = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])
        return msgs or None
    msgs = wait_until(dead, timeout=20)
    assert [m["Body"] for m in msgs] == ["fail-2"]
    bodies = [r["body"] for b in drain(sqs, out_url, timeout=3, want=100) for r in b["records"]]
    assert bodies.count("good-1") == 1 and bodies.count("good-3") == 1 and bodies.count("fail-2") == 2


def test_batching_window_and_filters(lam, sqs, unique_name):
    src_url, src_arn = queue(sqs, unique_name("src"))
    out_url, _ = queue(sqs, unique_name("out"))
    name = unique_name("window")
    create_function(lam, name, zip_files({"app.py": RECORDER}), Environment={"Variables": {"OUT_QUEUE": out_url}})
    lam.create_event_source_mapping(
        EventSourceArn=src_arn, FunctionName=name, BatchSize=25, MaximumBatchingWindowInSeconds=2,
        ScalingConfig={"MaximumConcurrency": 2},
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"keep": [True]}})}]})
    # 50 messages, half filtered out: each of the two pollers gathers up to 25
    # within the window, so a kept batch exceeds what one receive (10) returns.
    for chunk in range(5):
        sqs.send_message_batch(QueueUrl=src_url, Entries=[
            {"Id": str(i), "MessageBody": json.dumps({"keep": (chunk * 10 + i) % 2 == 0, "n": chunk * 10 + i})}
            for i in range(10)])
    batches = drain(sqs, out_url, timeout=15, want=100)
    records = [r for b in batches for r in b["records"]]
    assert sorted(json.loads(r["body"])["n"] for r in records) == list(range(0, 50, 2))
    assert max(b["size"] for b in batches) > 10  # more than one receive per batch
    # Filtered-out messages are deleted too.
    wait_until(lambda: sqs.get_queue_attributes(QueueUrl=src_url, AttributeNames=["All"])["Attributes"]
               ["ApproximateNumberOfMessages"] == "0", timeout=5)


def test_fifo_queue_mapping(lam, sqs, unique_name):
    src_url, src_arn = queue(sqs, unique_name("src") + ".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    out_url, _ = queue(sqs, unique_name("out"))
    name = unique_name("fifo")
    create_function(lam, name, zip_files({"app.py": RECORDER}), Environment={"Variables": {"OUT_QUEUE": out_url}})
    with pytest.raises(ClientError):
        lam.create_event_source_mapping(EventSourceArn=src_arn, FunctionName=name, BatchSize=20,
                                        MaximumBatchingWindowInSeconds=1)
    lam.create_event_source_mapping(EventSourceArn=src_arn, FunctionName=name, BatchSize=10)
    for i in range(6):
        sqs.send_message(QueueUrl=src_url, MessageBody=f"m{i}", MessageGroupId="g")
    records = [r for b in drain(sqs, out_url, timeout=15, want=100) for r in b["records"]]
    wait_until(lambda: len(records) >= 6 or records.extend(
        r for b in drain(sqs, out_url, timeout=1, want=100) for r in b["records"]), timeout=10)
    assert [r["body"] for r in records] == [f"m{i}" for i in range(6)]
    assert records[0]["attributes"]["MessageGroupId"] == "g"


REPLAY = """
import json, os, random, boto3

sqs = boto3.client("sqs")
ATTR = "sqs-dlq-replay-nb"
MAX_ATTEMPTS = int(os.environ["MAX_ATTEMPS"])
BACKOFF_RATE = float(os.environ["BACKOFF_RATE"])
BASE = float(os.environ.get("BACKOFF_BASE_SECONDS", "1"))
MAIN = os.environ["SQS_MAIN_URL"]


def handler(event, context):
    for record in event["Records"]:
        attrs = record.get("messageAttributes", {})
        replays = int(attrs[ATTR]["stringValue"]) if ATTR in attrs else 0
        if replays >= MAX_ATTEMPTS:
            # Leave it on the DLQ: its own redrive policy moves it to the final DLQ.
            raise RuntimeError("replay limit reached for %s" % record["messageId"])
        replays += 1
        # Exponential backoff with full jitter, capped at SQS's 900 s.
        delay = int(random.uniform(0, min(900, BASE * BACKOFF_RATE ** (replays - 1))))
        new_attrs = {k: {"DataType": v["dataType"], "StringValue": v["stringValue"]}
                     for k, v in attrs.items() if "stringValue" in v and k != ATTR}
        new_attrs[ATTR] = {"DataType": "Number", "StringValue": str(replays)}
        sqs.send_message(QueueUrl=MAIN, MessageBody=record["body"], DelaySeconds=delay,
                         MessageAttributes=new_attrs)
        print("replayed", record["messageId"], "attempt", replays, "delay", delay)
    return {"replayed": len(event["Records"])}
"""


def test_dlq_replay_with_backoff_scenario(lam, sqs, unique_name):
    """amazon-sqs-dlq-replay-backoff: main queue → DLQ → replay function → main queue
    (growing delay, replay counter) → after MAX_ATTEMPS replays → final DLQ."""
    final_url, final_arn = queue(sqs, unique_name("final-dlq"))
    # The DLQ's visibility timeout outlasts one replay invocation (cold start
    # included). Messages keep their receive count when SQS moves them to a DLQ
    # (2 after the main queue's limit of 1), so the DLQ's own limit is 3: one
    # more receive by the replay function is allowed, the next one redrives.
    dlq_url, dlq_arn = queue(sqs, unique_name("dlq"), VisibilityTimeout=3,
                             RedrivePolicy=json.dumps({"deadLetterTargetArn": final_arn, "maxReceiveCount": 3}))
    main_url, _ = queue(sqs, unique_name("main"), VisibilityTimeout=1,
                        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    name = unique_name("replay")
    create_function(lam, name, zip_files({"replay.py": REPLAY}), handler="replay.handler", Environment={"Variables": {
        "SQS_MAIN_URL": main_url, "MAX_ATTEMPS": "2", "BACKOFF_RATE": "2", "BACKOFF_BASE_SECONDS": "1",
        "MESSAGE_RETENTION_PERIOD": "345600", "LOG_LEVEL": "DEBUG"}})
    lam.create_event_source_mapping(EventSourceArn=dlq_arn, FunctionName=name, BatchSize=1)
    sqs.send_message(QueueUrl=main_url, MessageBody=json.dumps({"order": 42}),
                     MessageAttributes={"origin": {"DataType": "String", "StringValue": "test"}})
    # A consumer that always fails: receives from the main queue and never deletes.
    seen_replays = []
    deadline = time.time() + 60

    def final():
        msgs = sqs.receive_message(QueueUrl=final_url, MessageAttributeNames=["All"]).get("Messages", [])
        return msgs[0] if msgs else None
    landed = None
    while time.time() < deadline and landed is None:
        for m in sqs.receive_message(QueueUrl=main_url, WaitTimeSeconds=1,
                                     MessageAttributeNames=["All"]).get("Messages", []):
            n = int(m.get("MessageAttributes", {}).get("sqs-dlq-replay-nb", {}).get("StringValue", "0"))
            if not seen_replays or seen_replays[-1] != n:
                seen_replays.append(n)
            assert json.loads(m["Body"]) == {"order": 42}
            assert m["MessageAttributes"]["origin"]["StringValue"] == "test"
        landed = final()
    assert landed is not None, f"message never reached the final DLQ (replays seen {seen_replays})"
    assert seen_replays == [0, 1, 2]
    assert json.loads(landed["Body"]) == {"order": 42}
    assert landed["MessageAttributes"]["sqs-dlq-replay-nb"]["StringValue"] == "2"
