"""SQS dead-letter queues end to end: redrive after maxReceiveCount, source
listing, redrive allow policies, and message move tasks (redrive back out of
the DLQ), driven by boto3 over both SQS protocols.

Move-task errors follow answers recorded against AWS (InvalidParameterValue
"Source queue must be configured as a Dead Letter Queue.", ResourceNotFoundException
for a missing destination, and so on)."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import wait_until


def err(excinfo):
    return excinfo.value.response["Error"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def arn_of(client, url):
    return client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def count(client, url):
    a = client.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def redrive(dlq_arn, max_receive=2):
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})


class Queues:
    def __init__(self, client, unique_name):
        self.c = client
        self.unique_name = unique_name

    def queue(self, prefix="q", **attrs):
        url = self.c.create_queue(QueueName=self.unique_name(prefix),
                                  Attributes={k: str(v) for k, v in attrs.items()})["QueueUrl"]
        return url, arn_of(self.c, url)

    def pair(self, max_receive=2, **dlq_attrs):
        """(source_url, source_arn, dlq_url, dlq_arn) with the source redriving to the DLQ."""
        dlq_url, dlq_arn = self.queue("dlq", **dlq_attrs)
        src_url, src_arn = self.queue("src", RedrivePolicy=redrive(dlq_arn, max_receive))
        return src_url, src_arn, dlq_url, dlq_arn


@pytest.fixture
def queues(sqs_any, unique_name):
    return Queues(sqs_any, unique_name)


@pytest.fixture
def json_queues(sqs, unique_name):
    return Queues(sqs, unique_name)


def dead_letter(client, src_url, dlq_url, bodies, max_receive=2):
    """Send `bodies` to the source and keep receiving them (visibility 0) until
    every one has exceeded max_receive and sits in the DLQ."""
    for b in bodies:
        client.send_message(QueueUrl=src_url, MessageBody=b)

    def all_moved():
        client.receive_message(QueueUrl=src_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0)
        return count(client, dlq_url)[0] == len(bodies)

    assert wait_until(all_moved, timeout=10), (count(client, src_url), count(client, dlq_url))


def test_message_moves_to_dlq_after_max_receive_count(sqs_any, queues):
    src_url, _, dlq_url, _ = queues.pair(max_receive=2)
    attrs = {"kind": {"DataType": "String", "StringValue": "poison"},
             "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02"}}
    sent = sqs_any.send_message(QueueUrl=src_url, MessageBody="poison pill", MessageAttributes=attrs)

    counts = []
    for _ in range(2):
        msgs = sqs_any.receive_message(QueueUrl=src_url, VisibilityTimeout=0, WaitTimeSeconds=0,
                                       AttributeNames=["All"]).get("Messages", [])
        assert [m["MessageId"] for m in msgs] == [sent["MessageId"]]
        counts.append(msgs[0]["Attributes"]["ApproximateReceiveCount"])
    assert counts == ["1", "2"]

    # Past maxReceiveCount the message is not delivered from the source again.
    third = sqs_any.receive_message(QueueUrl=src_url, WaitTimeSeconds=0).get("Messages", [])
    assert third == []
    assert wait_until(lambda: count(sqs_any, src_url) == (0, 0), timeout=5)

    moved = wait_until(lambda: sqs_any.receive_message(
        QueueUrl=dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=0).get("Messages", []), timeout=5)
    assert len(moved) == 1
    m = moved[0]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == "poison pill"
    assert m["MessageAttributes"] == attrs
    assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert m["MD5OfBody"] == sent["MD5OfMessageBody"]


def test_deleted_message_never_reaches_dlq(sqs_any, queues):
    src_url, _, dlq_url, _ = queues.pair(max_receive=1)
    sqs_any.send_message(QueueUrl=src_url, MessageBody="handled")
    m = sqs_any.receive_message(QueueUrl=src_url, VisibilityTimeout=0).get("Messages", [])[0]
    sqs_any.delete_message(QueueUrl=src_url, ReceiptHandle=m["ReceiptHandle"])
    assert sqs_any.receive_message(QueueUrl=src_url, WaitTimeSeconds=0).get("Messages", []) == []
    assert count(sqs_any, dlq_url) == (0, 0)


def test_redrive_policy_is_reported(sqs_any, queues):
    src_url, _, _, dlq_arn = queues.pair(max_receive=5)
    policy = json.loads(sqs_any.get_queue_attributes(
        QueueUrl=src_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    assert policy["deadLetterTargetArn"] == dlq_arn
    assert int(policy["maxReceiveCount"]) == 5


def test_list_dead_letter_source_queues(sqs_any, queues):
    dlq_url, dlq_arn = queues.queue("dlq")
    src1, _ = queues.queue("src1", RedrivePolicy=redrive(dlq_arn))
    src2, _ = queues.queue("src2", RedrivePolicy=redrive(dlq_arn))
    unrelated, _ = queues.queue("other")
    urls = sqs_any.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"]
    assert sorted(urls) == sorted([src1, src2])
    assert unrelated not in urls

    # Removing a redrive policy removes the source from the list.
    sqs_any.set_queue_attributes(QueueUrl=src2, Attributes={"RedrivePolicy": ""})
    assert sqs_any.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"] == [src1]


def test_list_dead_letter_source_queues_of_a_plain_queue_is_empty(sqs_any, queues):
    url, _ = queues.queue()
    assert sqs_any.list_dead_letter_source_queues(QueueUrl=url).get("queueUrls", []) == []


def test_redrive_allow_policy_deny_all(sqs_any, queues):
    dlq_url, dlq_arn = queues.queue("dlq", RedriveAllowPolicy=json.dumps({"redrivePermission": "denyAll"}))
    src_url, _ = queues.queue("src")
    with pytest.raises(ClientError) as e:
        sqs_any.set_queue_attributes(QueueUrl=src_url, Attributes={"RedrivePolicy": redrive(dlq_arn)})
    # The docs don't name the code; SQS reports invalid attribute values with one of these.
    assert err(e)["Code"] in ("InvalidParameterValue", "InvalidAttributeValue")
    assert status(e) == 400
    assert "RedrivePolicy" not in sqs_any.get_queue_attributes(
        QueueUrl=src_url, AttributeNames=["All"])["Attributes"]
    assert sqs_any.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", []) == []


def test_redrive_allow_policy_by_queue(sqs_any, queues):
    allowed_url, allowed_arn = queues.queue("allowed")
    other_url, _ = queues.queue("other")
    dlq_url, dlq_arn = queues.queue("dlq", RedriveAllowPolicy=json.dumps(
        {"redrivePermission": "byQueue", "sourceQueueArns": [allowed_arn]}))
    sqs_any.set_queue_attributes(QueueUrl=allowed_url, Attributes={"RedrivePolicy": redrive(dlq_arn)})
    with pytest.raises(ClientError) as e:
        sqs_any.set_queue_attributes(QueueUrl=other_url, Attributes={"RedrivePolicy": redrive(dlq_arn)})
    assert err(e)["Code"] in ("InvalidParameterValue", "InvalidAttributeValue")
    assert sqs_any.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"] == [allowed_url]


def test_redrive_policy_to_missing_queue_is_rejected(sqs_any, queues):
    src_url, src_arn = queues.queue("src")
    missing = src_arn.rsplit(":", 1)[0] + ":no-such-dlq-queue"
    with pytest.raises(ClientError) as e:
        sqs_any.set_queue_attributes(QueueUrl=src_url, Attributes={"RedrivePolicy": redrive(missing)})
    assert err(e)["Code"] in ("InvalidParameterValue", "AWS.SimpleQueueService.NonExistentQueue")


def test_invalid_dead_letter_target_arn(sqs_any, queues):
    src_url, _ = queues.queue("src")
    policy = '{"deadLetterTargetArn": "dummy", "maxReceiveCount": 42}'
    with pytest.raises(ClientError) as e:
        sqs_any.set_queue_attributes(QueueUrl=src_url, Attributes={"RedrivePolicy": policy})
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == (
        f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Invalid value for deadLetterTargetArn.")


# ---------------------------------------------------------------- message move tasks


def list_tasks(client, source_arn, **kw):
    return client.list_message_move_tasks(SourceArn=source_arn, **kw)["Results"]


def test_move_task_back_to_original_source(sqs_any, queues):
    src_url, src_arn, dlq_url, dlq_arn = queues.pair(max_receive=1)
    bodies = [f"redrive-{i}" for i in range(3)]
    dead_letter(sqs_any, src_url, dlq_url, bodies, max_receive=1)

    handle = sqs_any.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    done = wait_until(lambda: [t for t in list_tasks(sqs_any, dlq_arn) if t["Status"] == "COMPLETED"], timeout=15)
    assert done, list_tasks(sqs_any, dlq_arn)
    task = done[0]
    assert task["SourceArn"] == dlq_arn
    assert task["ApproximateNumberOfMessagesMoved"] == 3
    assert task["ApproximateNumberOfMessagesToMove"] == 3
    assert "DestinationArn" not in task  # default destination: each message's original source
    assert "TaskHandle" not in task  # only running tasks carry a handle
    assert isinstance(task["StartedTimestamp"], int) and task["StartedTimestamp"] > 1_600_000_000_000

    assert count(sqs_any, dlq_url) == (0, 0)
    back = []
    deadline = time.time() + 5
    while len(back) < 3 and time.time() < deadline:
        back += sqs_any.receive_message(QueueUrl=src_url, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(m["Body"] for m in back) == bodies


def test_move_task_to_explicit_destination_with_rate(sqs_any, queues):
    src_url, _, dlq_url, dlq_arn = queues.pair(max_receive=1)
    dest_url, dest_arn = queues.queue("dest")
    bodies = [f"m{i}" for i in range(4)]
    dead_letter(sqs_any, src_url, dlq_url, bodies, max_receive=1)

    t0 = time.time()
    handle = sqs_any.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn,
                                             MaxNumberOfMessagesPerSecond=2)["TaskHandle"]
    running = list_tasks(sqs_any, dlq_arn)
    assert running[0]["Status"] == "RUNNING"
    assert running[0]["TaskHandle"] == handle
    assert running[0]["DestinationArn"] == dest_arn
    assert running[0]["MaxNumberOfMessagesPerSecond"] == 2
    assert running[0]["ApproximateNumberOfMessagesToMove"] == 4
    assert running[0]["ApproximateNumberOfMessagesMoved"] < 4, "the rate limit was not applied"

    done = wait_until(lambda: list_tasks(sqs_any, dlq_arn)[0]["Status"] == "COMPLETED", timeout=15)
    assert done, list_tasks(sqs_any, dlq_arn)
    elapsed = time.time() - t0
    # 4 messages at 2 per second can't finish instantly.
    assert elapsed >= 1.0, elapsed
    task = list_tasks(sqs_any, dlq_arn)[0]
    assert task["ApproximateNumberOfMessagesMoved"] == 4
    assert task["DestinationArn"] == dest_arn
    assert count(sqs_any, dest_url)[0] == 4
    assert count(sqs_any, dlq_url) == (0, 0)
    assert count(sqs_any, src_url) == (0, 0)


def test_cancel_slow_move_task(sqs, json_queues):
    src_url, _, dlq_url, dlq_arn = json_queues.pair(max_receive=1)
    dead_letter(sqs, src_url, dlq_url, [f"c{i}" for i in range(10)], max_receive=1)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    assert list_tasks(sqs, dlq_arn)[0]["Status"] == "RUNNING"
    time.sleep(1.2)

    res = sqs.cancel_message_move_task(TaskHandle=handle)
    moved_at_cancel = res["ApproximateNumberOfMessagesMoved"]
    assert 0 <= moved_at_cancel < 10
    assert list_tasks(sqs, dlq_arn)[0]["Status"] in ("CANCELLING", "CANCELLED")
    assert wait_until(lambda: list_tasks(sqs, dlq_arn)[0]["Status"] == "CANCELLED", timeout=10)
    time.sleep(1.5)  # nothing more moves after cancellation
    task = list_tasks(sqs, dlq_arn)[0]
    moved = task["ApproximateNumberOfMessagesMoved"]
    assert moved < 10
    assert count(sqs, src_url)[0] == moved
    assert count(sqs, dlq_url)[0] == 10 - moved

    # A cancelled task can't be cancelled again.
    with pytest.raises(ClientError) as e:
        sqs.cancel_message_move_task(TaskHandle=handle)
    assert status(e) in (400, 404)


def test_list_message_move_tasks_max_results(sqs, json_queues):
    src_url, _, dlq_url, dlq_arn = json_queues.pair(max_receive=1)
    _, dest_arn = json_queues.queue("dest")
    for body in ("a", "b"):
        dead_letter(sqs, src_url, dlq_url, [body], max_receive=1)
        sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn)
        assert wait_until(lambda: list_tasks(sqs, dlq_arn)[0]["Status"] == "COMPLETED", timeout=10)
    # The default is the most recent task only.
    assert len(list_tasks(sqs, dlq_arn)) == 1
    both = list_tasks(sqs, dlq_arn, MaxResults=10)
    assert len(both) == 2
    assert both[0]["StartedTimestamp"] >= both[1]["StartedTimestamp"]


def test_move_task_source_must_be_a_dlq(sqs_any, queues):
    _, plain_arn = queues.queue("plain")
    with pytest.raises(ClientError) as e:
        sqs_any.start_message_move_task(SourceArn=plain_arn)
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == "Source queue must be configured as a Dead Letter Queue."
    assert status(e) == 400


def test_move_task_destination_must_exist(sqs_any, queues):
    _, src_arn, _, dlq_arn = queues.pair()
    missing = src_arn.rsplit(":", 1)[0] + ":does-not-exist"
    with pytest.raises(ClientError) as e:
        sqs_any.start_message_move_task(SourceArn=dlq_arn, DestinationArn=missing)
    assert err(e)["Code"] == "ResourceNotFoundException"
    assert err(e)["Message"] == "The resource that you specified for the DestinationArn parameter doesn't exist."
    assert status(e) == 404


def test_move_task_source_must_exist(sqs_any, queues):
    _, arn = queues.queue("x")
    with pytest.raises(ClientError) as e:
        sqs_any.start_message_move_task(SourceArn=arn.rsplit(":", 1)[0] + ":no-such-source")
    assert err(e)["Code"] == "ResourceNotFoundException"
    assert status(e) == 404


def test_only_one_active_move_task_per_source(sqs, json_queues):
    src_url, _, dlq_url, dlq_arn = json_queues.pair(max_receive=1)
    dead_letter(sqs, src_url, dlq_url, [f"x{i}" for i in range(5)], max_receive=1)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    try:
        with pytest.raises(ClientError) as e:
            sqs.start_message_move_task(SourceArn=dlq_arn)
        assert err(e)["Code"] == "InvalidParameterValue"
        assert err(e)["Message"] == ("There is already a task running. Only one active task is allowed for a "
                                     "source queue arn at a given time.")
    finally:
        sqs.cancel_message_move_task(TaskHandle=handle)


def test_cancel_with_invalid_task_handle(sqs_any):
    with pytest.raises(ClientError) as e:
        sqs_any.cancel_message_move_task(TaskHandle="not-a-task-handle")
    assert err(e)["Code"] == "InvalidParameterValue"
    assert err(e)["Message"] == "Value for parameter TaskHandle is invalid."
    assert status(e) == 400
