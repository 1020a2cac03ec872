"""SNS delivery end to end: FIFO topics into FIFO queues (ordering per group,
deduplication, sequence numbers), filter policies in both scopes and their
errors, raw delivery, and dead-letter queues for failed SQS/Lambda deliveries."""
import json
import time

import pytest

from lambda_fixtures.helpers import create_function, zip_files
from test_sns_support import expect_error, make_queue, receive_all, verify_signature


@pytest.fixture
def sns(stratus):
    return stratus.client("sns")


@pytest.fixture
def sqs(stratus):
    return stratus.client("sqs")


def fifo_topic(sns, name, **attrs):
    attrs["FifoTopic"] = "true"
    return sns.create_topic(Name=name + ".fifo", Attributes=attrs)["TopicArn"]


def test_fifo_topic_to_fifo_queue_keeps_order_per_group(sns, sqs, unique_name):
    topic = fifo_topic(sns, unique_name("orders"))
    url, qarn = make_queue(sqs, unique_name("q") + ".fifo", fifo=True)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    seqs = []
    for i in range(12):
        out = sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId=f"g{i % 3}",
                          MessageDeduplicationId=f"d{i}")
        seqs.append(int(out["SequenceNumber"]))
        assert len(out["SequenceNumber"]) == 20
    assert seqs == sorted(seqs) and len(set(seqs)) == 12
    msgs = receive_all(sqs, url, 12)
    by_group = {}
    for m in msgs:
        body = json.loads(m["Body"])
        assert body["Type"] == "Notification"
        assert m["Attributes"]["MessageGroupId"] == f"g{int(body['Message'][1:]) % 3}"
        by_group.setdefault(m["Attributes"]["MessageGroupId"], []).append(int(body["SequenceNumber"]))
        # The envelope of a FIFO topic carries the sequence number after the id.
        keys = [line.split('"')[1] for line in m["Body"].splitlines() if line.startswith('  "')]
        assert keys[:4] == ["Type", "MessageId", "SequenceNumber", "TopicArn"]
    assert sorted(by_group) == ["g0", "g1", "g2"]
    for seq in by_group.values():
        assert seq == sorted(seq)


def test_fifo_deduplication_explicit_and_content_based(sns, sqs, unique_name):
    topic = fifo_topic(sns, unique_name("dedup"))
    url, qarn = make_queue(sqs, unique_name("q") + ".fifo", fifo=True)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    first = sns.publish(TopicArn=topic, Message="once", MessageGroupId="g", MessageDeduplicationId="same")
    again = sns.publish(TopicArn=topic, Message="twice", MessageGroupId="g", MessageDeduplicationId="same")
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    msgs = receive_all(sqs, url, 2, timeout=3)
    assert [m["Body"] for m in msgs] == ["once"]
    # The deduplication id travels to the queue.
    assert msgs[0]["Attributes"]["MessageDeduplicationId"] == "same"
    expect_error(sns.publish, "InvalidParameter",
                 "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
                 TopicArn=topic, Message="m")
    expect_error(sns.publish, "InvalidParameter",
                 "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
                 "MessageDeduplicationId provided explicitly",
                 TopicArn=topic, Message="m", MessageGroupId="g")
    sns.set_topic_attributes(TopicArn=topic, AttributeName="ContentBasedDeduplication", AttributeValue="true")
    a = sns.publish(TopicArn=topic, Message="body-a", MessageGroupId="g")
    b = sns.publish(TopicArn=topic, Message="body-a", MessageGroupId="g")
    c = sns.publish(TopicArn=topic, Message="body-b", MessageGroupId="g")
    assert a["MessageId"] == b["MessageId"] != c["MessageId"]
    assert [m["Body"] for m in receive_all(sqs, url, 3, timeout=3)] == ["body-a", "body-b"]


def test_fifo_batch_keeps_entry_order(sns, sqs, unique_name):
    topic = fifo_topic(sns, unique_name("batch"), ContentBasedDeduplication="true")
    url, qarn = make_queue(sqs, unique_name("q") + ".fifo", fifo=True)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    out = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": f"e{i}", "Message": f"n{i}", "MessageGroupId": "one"} for i in range(10)])
    assert len(out["Successful"]) == 10 and out["Failed"] == []
    seqs = [int(e["SequenceNumber"]) for e in out["Successful"]]
    assert seqs == sorted(seqs)
    assert [m["Body"] for m in receive_all(sqs, url, 10)] == [f"n{i}" for i in range(10)]


def test_fifo_topic_subscription_rules(sns, sqs, unique_name):
    topic = fifo_topic(sns, unique_name("rules"))
    expect_error(sns.subscribe, "InvalidParameter", TopicArn=topic, Protocol="http",
                 Endpoint="http://127.0.0.1:9/")
    expect_error(sns.subscribe, "InvalidParameter", TopicArn=topic, Protocol="lambda",
                 Endpoint="arn:aws:lambda:us-east-1:000000000000:function:f")
    # A standard queue may subscribe to a FIFO topic; group ids pass through.
    url, qarn = make_queue(sqs, unique_name("std"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="to standard", MessageGroupId="grp", MessageDeduplicationId="x")
    assert [m["Body"] for m in receive_all(sqs, url, 1)] == ["to standard"]


ATTR_POLICY = {
    "store": ["example_corp"],
    "event": [{"anything-but": "order_cancelled"}],
    "price": [{"numeric": [">=", 100, "<", 200]}],
    "customer": [{"prefix": "vip-"}],
}


def publish_attrs(sns, topic, message, **attrs):
    sns.publish(TopicArn=topic, Message=message, MessageAttributes={
        k: ({"DataType": "Number", "StringValue": str(v)} if isinstance(v, (int, float))
            else {"DataType": "String.Array", "StringValue": json.dumps(v)} if isinstance(v, list)
            else {"DataType": "String", "StringValue": v})
        for k, v in attrs.items()})


def test_filter_policy_on_message_attributes(sns, sqs, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    url, qarn = make_queue(sqs, unique_name("q"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                  Attributes={"FilterPolicy": json.dumps(ATTR_POLICY), "RawMessageDelivery": "true"})
    base = {"store": "example_corp", "event": "order_placed", "price": 150, "customer": "vip-7"}
    publish_attrs(sns, topic, "match", **base)
    publish_attrs(sns, topic, "wrong-store", **{**base, "store": "other"})
    publish_attrs(sns, topic, "cancelled", **{**base, "event": "order_cancelled"})
    publish_attrs(sns, topic, "too-cheap", **{**base, "price": 99.5})
    publish_attrs(sns, topic, "not-vip", **{**base, "customer": "regular"})
    publish_attrs(sns, topic, "array-match", **{**base, "store": ["x", "example_corp"]})
    sns.publish(TopicArn=topic, Message="no-attributes")
    assert sorted(m["Body"] for m in receive_all(sqs, url, 2, timeout=3)) == ["array-match", "match"]


def test_filter_policy_exists_and_or(sns, sqs, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    url, qarn = make_queue(sqs, unique_name("q"))
    policy = {"$or": [{"urgent": [{"exists": True}]}, {"level": ["error", "fatal"]}]}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                  Attributes={"FilterPolicy": json.dumps(policy), "RawMessageDelivery": "true"})
    publish_attrs(sns, topic, "urgent", urgent="yes")
    publish_attrs(sns, topic, "error", level="error")
    publish_attrs(sns, topic, "info", level="info")
    assert sorted(m["Body"] for m in receive_all(sqs, url, 2, timeout=3)) == ["error", "urgent"]


def test_filter_policy_on_message_body(sns, sqs, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    url, qarn = make_queue(sqs, unique_name("q"))
    policy = {"order": {"status": ["shipped"], "total": [{"numeric": [">", 10]}]}}
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, ReturnSubscriptionArn=True,
                        Attributes={"FilterPolicy": json.dumps(policy), "FilterPolicyScope": "MessageBody",
                                    "RawMessageDelivery": "true"})["SubscriptionArn"]
    for status, total in [("shipped", 20), ("shipped", 5), ("pending", 20)]:
        sns.publish(TopicArn=topic, Message=json.dumps({"order": {"status": status, "total": total}}))
    sns.publish(TopicArn=topic, Message="not json at all")
    msgs = receive_all(sqs, url, 2, timeout=3)
    assert [json.loads(m["Body"])["order"] for m in msgs] == [{"status": "shipped", "total": 20}]
    # The nested policy cannot move to the attributes scope.
    expect_error(sns.set_subscription_attributes, "InvalidParameter",
                 "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy",
                 SubscriptionArn=sub, AttributeName="FilterPolicyScope", AttributeValue="MessageAttributes")
    # Removing the policy lets everything through.
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue="")
    sns.publish(TopicArn=topic, Message="anything")
    assert [m["Body"] for m in receive_all(sqs, url, 1)] == ["anything"]


@pytest.mark.parametrize("policy,reason", [
    ("{not json", "FilterPolicy: failed to parse JSON."),
    (json.dumps({"a": {"b": ["c"]}}), None),
    (json.dumps({f"k{i}": ["v"] for i in range(6)}), "FilterPolicy: Filter policy can not have more than 5 keys"),
    (json.dumps({"a": [{"numeric": [">", "x"]}]}), None),
])
def test_invalid_filter_policies(sns, sqs, unique_name, policy, reason):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    _, qarn = make_queue(sqs, unique_name("q"))
    err = expect_error(sns.subscribe, "InvalidParameter", TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                       Attributes={"FilterPolicy": policy})
    message = err.response["Error"]["Message"]
    assert message.startswith("Invalid parameter: ")
    if reason:
        assert message == f"Invalid parameter: Attributes Reason: {reason}"
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    err = expect_error(sns.set_subscription_attributes, "InvalidParameter", SubscriptionArn=sub,
                       AttributeName="FilterPolicy", AttributeValue=policy)
    if reason:
        assert err.response["Error"]["Message"] == f"Invalid parameter: {reason}"


def test_raw_delivery_passes_attributes_to_sqs(sns, sqs, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    url, qarn = make_queue(sqs, unique_name("q"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    sns.publish(TopicArn=topic, Message="raw body", MessageAttributes={
        "s": {"DataType": "String", "StringValue": "text"},
        "n": {"DataType": "Number", "StringValue": "1.5"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
        "custom": {"DataType": "String.Custom", "StringValue": "c"}})
    m = receive_all(sqs, url, 1)[0]
    assert m["Body"] == "raw body"
    assert m["MessageAttributes"] == {
        "s": {"DataType": "String", "StringValue": "text"},
        "n": {"DataType": "Number", "StringValue": "1.5"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
        "custom": {"DataType": "String.Custom", "StringValue": "c"},
    }


def test_missing_queue_delivers_to_dead_letter_queue(sns, sqs, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    dlq_url, dlq_arn = make_queue(sqs, unique_name("dlq"))
    gone_url, gone_arn = make_queue(sqs, unique_name("gone"))
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=gone_arn,
                        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})["SubscriptionArn"]
    assert json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn}
    sqs.delete_queue(QueueUrl=gone_url)
    out = sns.publish(TopicArn=topic, Message="undeliverable")
    m = receive_all(sqs, dlq_url, 1)[0]
    body = json.loads(m["Body"])
    assert body["Message"] == "undeliverable"
    assert body["MessageId"] == out["MessageId"]
    assert m["MessageAttributes"]["ErrorCode"]["StringValue"] == "QueueDoesNotExist"
    assert m["MessageAttributes"]["RequestID"]["StringValue"] == out["MessageId"]
    expect_error(sns.set_subscription_attributes, "InvalidParameter", SubscriptionArn=sub,
                 AttributeName="RedrivePolicy", AttributeValue=json.dumps({"deadLetterTargetArn": "nope"}))


def test_lambda_subscription_without_the_function_dead_letters(sns, sqs, unique_name):
    """Lambda deliveries are Invoke calls (InvocationType Event); a function that
    cannot be invoked is a client-side failure and goes to the DLQ."""
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    dlq_url, dlq_arn = make_queue(sqs, unique_name("dlq"))
    fn = f"arn:aws:lambda:us-east-1:000000000000:function:{unique_name('fn')}"
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn,
                        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})["SubscriptionArn"]
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["PendingConfirmation"] == "false"
    expect_error(sns.set_subscription_attributes, "InvalidParameter",
                 "Invalid parameter: Delivery protocol [lambda] does not support raw message delivery.",
                 SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true")
    sns.publish(TopicArn=topic, Message="for lambda", Subject="S")
    m = receive_all(sqs, dlq_url, 1)[0]
    event = json.loads(m["Body"])
    record = event["Records"][0]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == sub
    assert record["Sns"]["Message"] == "for lambda"
    assert record["Sns"]["Subject"] == "S"
    assert record["Sns"]["Type"] == "Notification"
    assert record["Sns"]["SigningCertUrl"].endswith(".pem")
    assert record["Sns"]["UnsubscribeUrl"].endswith(sub)


RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\\n")
"""


def test_lambda_subscription_invokes_the_function(stratus, sns, unique_name, tmp_path):
    lam = stratus.client("lambda")
    out = tmp_path / "events.jsonl"
    name = unique_name("fn")
    fn = create_function(lam, name, zip_files({"app.py": RECORDER}),
                         Environment={"Variables": {"OUT": str(out)}})["FunctionArn"]
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=fn)["SubscriptionArn"]
    published = sns.publish(TopicArn=topic, Message="to the function",
                            MessageAttributes={"a": {"DataType": "String", "StringValue": "b"}})
    deadline = time.time() + 30
    while time.time() < deadline and not (out.exists() and out.read_text().strip()):
        time.sleep(0.1)
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == 1
    record = events[0]["Records"][0]
    assert list(record) == ["EventSource", "EventVersion", "EventSubscriptionArn", "Sns"]
    assert record["EventSubscriptionArn"] == sub
    sns_part = record["Sns"]
    assert sns_part["MessageId"] == published["MessageId"]
    assert sns_part["TopicArn"] == topic
    assert sns_part["Subject"] is None
    assert sns_part["Message"] == "to the function"
    assert sns_part["MessageAttributes"] == {"a": {"Type": "String", "Value": "b"}}
    verify_signature(sns_part, cert_key="SigningCertUrl")


def test_message_group_id_on_standard_topic_reaches_the_queue(sns, sqs, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    url, qarn = make_queue(sqs, unique_name("q"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
    sns.publish(TopicArn=topic, Message="fair", MessageGroupId="tenant-1")
    m = receive_all(sqs, url, 1)[0]
    assert m["Attributes"].get("MessageGroupId") == "tenant-1"
    assert json.loads(m["Body"])["Message"] == "fair"


def test_fan_out_reaches_every_subscriber(sns, sqs, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    queues = [make_queue(sqs, unique_name(f"q{i}")) for i in range(5)]
    for _, qarn in queues:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    start = time.time()
    for i in range(20):
        sns.publish(TopicArn=topic, Message=f"m{i}")
    for url, _ in queues:
        assert sorted(m["Body"] for m in receive_all(sqs, url, 20)) == sorted(f"m{i}" for i in range(20))
    assert time.time() - start < 30
