"""SNS end to end: topics, attributes, policies, tags, subscriptions and
publishing to SQS, with boto3 (which speaks the query protocol to SNS) and the
AWS CLI. Delivery details live in test_sns_delivery.py, HTTP/S and email in
test_sns_http.py, restarts in test_sns_persistence.py."""
import json

import pytest

from conftest import wait_until
from test_sns_support import ACCOUNT, REGION, expect_error, make_queue, receive_all


@pytest.fixture
def sns(stratus):
    return stratus.client("sns")


@pytest.fixture
def sqs(stratus):
    return stratus.client("sqs")


def test_create_topic_is_idempotent_and_has_aws_attributes(sns, unique_name):
    name = unique_name("topic")
    arn = sns.create_topic(Name=name, Attributes={"DisplayName": "Alerts"})["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "Alerts"})["TopicArn"] == arn
    assert sns.create_topic(Name=name)["TopicArn"] == arn
    expect_error(sns.create_topic, "InvalidParameter",
                 "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
                 Name=name, Attributes={"DisplayName": "Other"})
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn
    assert attrs["Owner"] == ACCOUNT
    assert attrs["DisplayName"] == "Alerts"
    assert attrs["SubscriptionsConfirmed"] == "0"
    assert attrs["SubscriptionsPending"] == "0"
    assert attrs["SubscriptionsDeleted"] == "0"
    policy = json.loads(attrs["Policy"])
    assert policy["Version"] == "2008-10-17"
    assert policy["Id"] == "__default_policy_ID"
    stmt = policy["Statement"][0]
    assert stmt["Sid"] == "__default_statement_ID"
    assert stmt["Resource"] == arn
    assert "SNS:Publish" in stmt["Action"]
    assert stmt["Condition"] == {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"] == {
        "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
        "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"}
    assert effective["http"]["defaultRequestPolicy"] == {"headerContentType": "text/plain; charset=UTF-8"}
    assert "FifoTopic" not in attrs


@pytest.mark.parametrize("name,attrs,message", [
    ("has.dot", {}, "Invalid parameter: Topic Name"),
    ("x" * 257, {}, "Invalid parameter: Topic Name"),
    ("standard.fifo", {}, "Invalid parameter: Topic Name"),
    ("nofifo", {"FifoTopic": "true"},
     "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and "
     "lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long."),
    ("t", {"Bogus": "1"}, "Invalid parameter: AttributeName"),
    ("t", {"ContentBasedDeduplication": "true"},
     "Invalid parameter: ContentBasedDeduplication Reason: Content-based deduplication can only be set for FIFO topics"),
])
def test_create_topic_validation(sns, name, attrs, message):
    expect_error(sns.create_topic, "InvalidParameter", message, Name=name, Attributes=attrs)


def test_fifo_topic_attributes(sns, unique_name):
    arn = sns.create_topic(Name=unique_name("f") + ".fifo",
                           Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["FifoTopic"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"
    assert attrs["FifoThroughputScope"] == "Topic"
    sns.set_topic_attributes(TopicArn=arn, AttributeName="FifoThroughputScope", AttributeValue="MessageGroup")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="ArchivePolicy",
                             AttributeValue=json.dumps({"MessageRetentionPeriod": "7"}))
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["FifoThroughputScope"] == "MessageGroup"
    assert json.loads(attrs["ArchivePolicy"]) == {"MessageRetentionPeriod": "7"}
    assert attrs["BeginningArchiveTime"].endswith("Z")
    expect_error(sns.set_topic_attributes, "InvalidParameter", TopicArn=arn, AttributeName="FifoTopic",
                 AttributeValue="false")


def test_set_topic_attributes(sns, unique_name):
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    policy = {
        "http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 5, "numRetries": 4,
                                               "backoffFunction": "exponential"},
                 "disableSubscriptionOverrides": True}
    }
    for name, value in [("DisplayName", "Shown"), ("SignatureVersion", "2"), ("TracingConfig", "Active"),
                        ("KmsMasterKeyId", "alias/aws/sns"), ("DeliveryPolicy", json.dumps(policy)),
                        ("HTTPSuccessFeedbackSampleRate", "50"), ("MaximumMessageSize", "1048576")]:
        sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Shown"
    assert attrs["SignatureVersion"] == "2"
    assert attrs["TracingConfig"] == "Active"
    assert attrs["KmsMasterKeyId"] == "alias/aws/sns"
    assert attrs["HTTPSuccessFeedbackSampleRate"] == "50"
    assert attrs["MaximumMessageSize"] == "1048576"
    effective = json.loads(attrs["EffectiveDeliveryPolicy"])["http"]
    assert effective["defaultHealthyRetryPolicy"]["numRetries"] == 4
    assert effective["defaultHealthyRetryPolicy"]["minDelayTarget"] == 1
    assert effective["disableSubscriptionOverrides"] is True
    for name, value in [("SignatureVersion", "3"), ("Bogus", "x"), ("DeliveryPolicy", "{not json"),
                        ("Policy", "{}"), ("MaximumMessageSize", "10")]:
        expect_error(sns.set_topic_attributes, "InvalidParameter", TopicArn=arn, AttributeName=name,
                     AttributeValue=value)
    expect_error(sns.get_topic_attributes, "NotFound", "Topic does not exist",
                 TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique_name('missing')}")
    expect_error(sns.get_topic_attributes, "InvalidParameter", "Invalid parameter: TopicArn", TopicArn="nope")


def test_list_topics_paginates_by_100(stratus, unique_name):
    # A fresh account keeps other tests' topics out of the count.
    account = "210987654321"
    sns = stratus.client("sns", access_key=account)
    prefix = unique_name("page")
    made = {sns.create_topic(Name=f"{prefix}-{i:03d}")["TopicArn"] for i in range(205)}
    first = sns.list_topics()
    assert len(first["Topics"]) == 100
    assert "NextToken" in first
    pages = list(sns.get_paginator("list_topics").paginate())
    assert [len(p["Topics"]) for p in pages] == [100, 100, 5]
    listed = [t["TopicArn"] for p in pages for t in p["Topics"]]
    assert set(listed) == made
    assert listed == sorted(listed)
    expect_error(sns.list_topics, "InvalidParameter", NextToken="!!!")


def test_delete_topic_removes_subscriptions_and_is_idempotent(sns, sqs, unique_name):
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    _, qarn = make_queue(sqs, unique_name("q"))
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)
    expect_error(sns.get_subscription_attributes, "NotFound", SubscriptionArn=sub)
    assert arn not in [t["TopicArn"] for t in sns.get_paginator("list_topics").paginate().build_full_result()["Topics"]]
    expect_error(sns.publish, "NotFound", "Topic does not exist", TopicArn=arn, Message="x")


def test_tags(sns, unique_name):
    arn = sns.create_topic(Name=unique_name(), Tags=[{"Key": "team", "Value": "blue"}])["TopicArn"]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "red"}])
    tags = sns.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "red")]
    sns.untag_resource(ResourceArn=arn, TagKeys=["env"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "red"}]
    expect_error(sns.create_topic, "InvalidParameter",
                 "Invalid parameter: Tags Reason: Topic already exists with different tags",
                 Name=arn.rsplit(":", 1)[1], Tags=[{"Key": "team", "Value": "green"}])
    expect_error(sns.tag_resource, "TagLimitExceeded", ResourceArn=arn,
                 Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    expect_error(sns.list_tags_for_resource, "ResourceNotFound",
                 ResourceArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{unique_name('gone')}")


def test_permissions_and_cross_account_access(stratus, sns, unique_name):
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    other = stratus.client("sns", access_key="111122223333")
    expect_error(other.publish, "AuthorizationError", TopicArn=arn, Message="hi")
    sns.add_permission(TopicArn=arn, Label="grant-publish", AWSAccountId=["111122223333"],
                       ActionName=["Publish", "GetTopicAttributes"])
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    stmt = [s for s in policy["Statement"] if s["Sid"] == "grant-publish"][0]
    assert stmt["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert sorted(stmt["Action"]) == ["SNS:GetTopicAttributes", "SNS:Publish"]
    assert other.publish(TopicArn=arn, Message="hi")["MessageId"]
    assert other.get_topic_attributes(TopicArn=arn)["Attributes"]["TopicArn"] == arn
    expect_error(other.delete_topic, "AuthorizationError", TopicArn=arn)
    expect_error(sns.add_permission, "InvalidParameter", "Invalid parameter: Statement already exists",
                 TopicArn=arn, Label="grant-publish", AWSAccountId=["1"], ActionName=["Publish"])
    expect_error(sns.add_permission, "InvalidParameter",
                 "Invalid parameter: Policy statement action out of service scope!",
                 TopicArn=arn, Label="bad", AWSAccountId=["111122223333"], ActionName=["Frobnicate"])
    sns.remove_permission(TopicArn=arn, Label="grant-publish")
    expect_error(other.publish, "AuthorizationError", TopicArn=arn, Message="hi")


def test_data_protection_policy(sns, unique_name):
    doc = {"Name": "p", "Description": "", "Version": "2021-06-01", "Statement": []}
    arn = sns.create_topic(Name=unique_name(), DataProtectionPolicy=json.dumps(doc))["TopicArn"]
    assert json.loads(sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"]) == doc
    doc["Name"] = "q"
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=json.dumps(doc))
    assert json.loads(sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"])["Name"] == "q"
    expect_error(sns.put_data_protection_policy, "InvalidParameter", ResourceArn=arn, DataProtectionPolicy="[")


def test_subscribe_sqs_and_manage_subscription(sns, sqs, unique_name):
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    _, qarn = make_queue(sqs, unique_name("q"))
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    assert sub.startswith(arn + ":")
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"] == sub
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["Protocol"] == "sqs"
    assert attrs["Endpoint"] == qarn
    assert attrs["TopicArn"] == arn
    assert attrs["Owner"] == ACCOUNT
    assert attrs["PendingConfirmation"] == "false"
    assert attrs["ConfirmationWasAuthenticated"] == "true"
    assert attrs["RawMessageDelivery"] == "false"
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["healthyRetryPolicy"]["numRetries"] == 3
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true")
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicy",
                                    AttributeValue=json.dumps({"k": ["v"]}))
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attrs["RawMessageDelivery"] == "true"
    assert json.loads(attrs["FilterPolicy"]) == {"k": ["v"]}
    assert attrs["FilterPolicyScope"] == "MessageAttributes"
    expect_error(sns.subscribe, "InvalidParameter",
                 "Invalid parameter: Attributes Reason: Subscription already exists with different attributes",
                 TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "false"})
    expect_error(sns.set_subscription_attributes, "InvalidParameter", "Invalid parameter: AttributeName",
                 SubscriptionArn=sub, AttributeName="Bogus", AttributeValue="1")
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert listed == [{"SubscriptionArn": sub, "Owner": ACCOUNT, "Protocol": "sqs", "Endpoint": qarn,
                       "TopicArn": arn}]
    assert sub in [s["SubscriptionArn"] for s in
                   sns.get_paginator("list_subscriptions").paginate().build_full_result()["Subscriptions"]]
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsConfirmed"] == "1"
    sns.unsubscribe(SubscriptionArn=sub)
    expect_error(sns.get_subscription_attributes, "NotFound", "Subscription does not exist", SubscriptionArn=sub)
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


@pytest.mark.parametrize("protocol,endpoint,message", [
    ("carrier-pigeon", "x", "Invalid parameter: Amazon SNS does not support this protocol string: carrier-pigeon"),
    ("sqs", "not-an-arn", "Invalid parameter: SQS endpoint ARN"),
    ("lambda", "arn:aws:sqs:us-east-1:000000000000:q", "Invalid parameter: Lambda endpoint ARN"),
    ("http", "https://example.com", "Invalid parameter: Endpoint must match the specified protocol"),
    ("email", "not-an-address", "Invalid parameter: Email address"),
    ("sqs", "arn:aws:sqs:us-east-1:000000000000:q.fifo",
     "Invalid parameter: Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics"),
])
def test_subscribe_validation(sns, unique_name, protocol, endpoint, message):
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    expect_error(sns.subscribe, "InvalidParameter", message, TopicArn=arn, Protocol=protocol, Endpoint=endpoint)


def test_publish_to_sqs_envelope(sns, sqs, unique_name):
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    url, qarn = make_queue(sqs, unique_name("q"))
    sub = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"]
    out = sns.publish(TopicArn=arn, Message="hello\nworld", Subject="Greetings",
                      MessageAttributes={"color": {"DataType": "String", "StringValue": "red"},
                                         "count": {"DataType": "Number", "StringValue": "3"},
                                         "tags": {"DataType": "String.Array", "StringValue": "[\"a\",\"b\"]"},
                                         "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}})
    msgs = receive_all(sqs, url, 1)
    assert len(msgs) == 1
    raw = msgs[0]["Body"]
    # Exactly AWS's envelope: these fields, in this order, pretty-printed.
    keys = [line.split('"')[1] for line in raw.splitlines() if line.startswith('  "')]
    assert keys == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                    "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"]
    assert raw.startswith('{\n  "Type" : "Notification",\n  "MessageId" : "')
    body = json.loads(raw)
    assert body["MessageId"] == out["MessageId"]
    assert body["TopicArn"] == arn
    assert body["Subject"] == "Greetings"
    assert body["Message"] == "hello\nworld"
    assert body["SignatureVersion"] == "1"
    assert len(body["Timestamp"]) == 24 and body["Timestamp"].endswith("Z")
    assert body["UnsubscribeURL"].endswith(f"/?Action=Unsubscribe&SubscriptionArn={sub}")
    assert body["MessageAttributes"] == {
        "blob": {"Type": "Binary", "Value": "AP8="},
        "color": {"Type": "String", "Value": "red"},
        "count": {"Type": "Number", "Value": "3"},
        "tags": {"Type": "String.Array", "Value": "[\"a\",\"b\"]"},
    }
    # Without a subject or attributes those members are absent.
    sns.publish(TopicArn=arn, Message="plain")
    body = json.loads(receive_all(sqs, url, 1)[0]["Body"])
    assert "Subject" not in body and "MessageAttributes" not in body


def test_publish_validation(sns, unique_name):
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    expect_error(sns.publish, "InvalidParameter", "Invalid parameter: Empty message", TopicArn=arn, Message="")
    expect_error(sns.publish, "InvalidParameter", "Invalid parameter: Subject", TopicArn=arn, Message="m",
                 Subject="s" * 101)
    expect_error(sns.publish, "InvalidParameter", "Invalid parameter: Subject", TopicArn=arn, Message="m",
                 Subject="two\nlines")
    expect_error(sns.publish, "InvalidParameter", "Invalid parameter: Message too long", TopicArn=arn,
                 Message="x" * (256 * 1024 + 1))
    # The limit counts the attributes too.
    expect_error(sns.publish, "InvalidParameter", "Invalid parameter: Message too long", TopicArn=arn,
                 Message="x" * (256 * 1024 - 10),
                 MessageAttributes={"attr": {"DataType": "String", "StringValue": "y" * 20}})
    assert sns.publish(TopicArn=arn, Message="x" * (256 * 1024))["MessageId"]
    expect_error(sns.publish, "InvalidParameter",
                 "Invalid parameter: Message Structure - No default entry in JSON message body",
                 TopicArn=arn, Message=json.dumps({"sqs": "x"}), MessageStructure="json")
    expect_error(sns.publish, "InvalidParameter",
                 "Invalid parameter: Message Structure - JSON message body failed to parse",
                 TopicArn=arn, Message="not json", MessageStructure="json")
    expect_error(sns.publish, "ParameterValueInvalid", TopicArn=arn, Message="m",
                 MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}})
    expect_error(sns.publish, "ParameterValueInvalid", TopicArn=arn, Message="m",
                 MessageAttributes={"n": {"DataType": "Decimal", "StringValue": "1"}})
    expect_error(sns.publish, "InvalidParameter",
                 "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId "
                 "parameter that is not valid for this topic type",
                 TopicArn=arn, Message="m", MessageDeduplicationId="d")
    expect_error(sns.publish, "InvalidParameter", TopicArn=arn, TargetArn=arn, Message="m")


def test_publish_with_target_arn_and_message_structure(sns, sqs, unique_name):
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    url, qarn = make_queue(sqs, unique_name("q"))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
    sns.publish(TargetArn=arn, MessageStructure="json",
                Message=json.dumps({"default": "fallback", "sqs": "for sqs", "email": "for email"}))
    body = json.loads(receive_all(sqs, url, 1)[0]["Body"])
    assert body["Message"] == "for sqs"


def test_publish_batch(sns, sqs, unique_name):
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    url, qarn = make_queue(sqs, unique_name("q"))
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn, Attributes={"RawMessageDelivery": "true"})
    out = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "one", "Message": "m1"},
        {"Id": "two", "Message": "m2", "MessageAttributes": {"a": {"DataType": "String", "StringValue": "b"}}},
        {"Id": "bad", "Message": ""},
    ])
    assert sorted(e["Id"] for e in out["Successful"]) == ["one", "two"]
    assert all(e["MessageId"] for e in out["Successful"])
    assert out["Failed"] == [{"Id": "bad", "Code": "InvalidParameter", "Message": "Invalid parameter: Empty message",
                              "SenderFault": True}]
    msgs = receive_all(sqs, url, 2)
    assert sorted(m["Body"] for m in msgs) == ["m1", "m2"]
    two = [m for m in msgs if m["Body"] == "m2"][0]
    assert two["MessageAttributes"]["a"]["StringValue"] == "b"
    expect_error(sns.publish_batch, "TooManyEntriesInBatchRequest", TopicArn=arn,
                 PublishBatchRequestEntries=[{"Id": f"i{i}", "Message": "m"} for i in range(11)])
    expect_error(sns.publish_batch, "BatchEntryIdsNotDistinct", TopicArn=arn,
                 PublishBatchRequestEntries=[{"Id": "x", "Message": "m"}, {"Id": "x", "Message": "m"}])
    expect_error(sns.publish_batch, "InvalidBatchEntryId", TopicArn=arn,
                 PublishBatchRequestEntries=[{"Id": "bad id!", "Message": "m"}])
    expect_error(sns.publish_batch, "EmptyBatchRequest", TopicArn=arn, PublishBatchRequestEntries=[])
    expect_error(sns.publish_batch, "BatchRequestTooLong", TopicArn=arn,
                 PublishBatchRequestEntries=[{"Id": f"i{i}", "Message": "x" * 30000} for i in range(10)])


def test_cross_region_and_cross_account_queue(stratus, unique_name):
    """Deliveries go to the queue's own account and region."""
    sns = stratus.client("sns")
    arn = sns.create_topic(Name=unique_name())["TopicArn"]
    west = stratus.client("sqs", region="eu-west-1", access_key="123412341234")
    url, qarn = make_queue(west, unique_name("q"))
    assert qarn.startswith("arn:aws:sqs:eu-west-1:123412341234:")
    # The topic owner subscribes another account's queue: that account confirms.
    assert sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)["SubscriptionArn"] == "pending confirmation"
    confirmation = json.loads(receive_all(west, url, 1)[0]["Body"])
    assert confirmation["Type"] == "SubscriptionConfirmation"
    sub = sns.confirm_subscription(TopicArn=arn, Token=confirmation["Token"])["SubscriptionArn"]
    sns.publish(TopicArn=arn, Message="to another account")
    body = json.loads(receive_all(west, url, 1)[0]["Body"])
    assert body["Message"] == "to another account"
    assert body["UnsubscribeURL"].endswith(sub)


def test_cli_round_trip(stratus, unique_name):
    name = unique_name("cli")
    arn = stratus.cli("sns", "create-topic", "--name", name, "--attributes", "DisplayName=FromCli").json["TopicArn"]
    attrs = stratus.cli("sns", "get-topic-attributes", "--topic-arn", arn).json["Attributes"]
    assert attrs["DisplayName"] == "FromCli"
    sqs = stratus.client("sqs")
    url, qarn = make_queue(sqs, unique_name("q"))
    sub = stratus.cli("sns", "subscribe", "--topic-arn", arn, "--protocol", "sqs", "--notification-endpoint", qarn,
                      "--attributes", "RawMessageDelivery=true").json["SubscriptionArn"]
    assert sub.startswith(arn)
    out = stratus.cli("sns", "publish", "--topic-arn", arn, "--message", "from the cli").json
    assert out["MessageId"]
    assert receive_all(sqs, url, 1)[0]["Body"] == "from the cli"
    topics = stratus.cli("sns", "list-topics").json["Topics"]
    assert {"TopicArn": arn} in topics
    err = stratus.cli("sns", "get-topic-attributes", "--topic-arn", arn + "-nope", check=False)
    assert err.returncode != 0
    assert "NotFound" in err.stderr and "Topic does not exist" in err.stderr
    stratus.cli("sns", "unsubscribe", "--subscription-arn", sub)
    stratus.cli("sns", "delete-topic", "--topic-arn", arn)
    assert wait_until(lambda: {"TopicArn": arn} not in stratus.cli("sns", "list-topics").json["Topics"])
