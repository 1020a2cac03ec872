"""SQS queue management end to end: real boto3 clients (JSON and query
protocols) against the real `stratus` binary.

Expected values follow the SQS API reference (botocore model documentation of
the pinned edition): limits, defaults and error codes. Error codes are the ones
a client surfaces, which are the query codes for both protocols (see
sqs_helpers)."""
import json
import time

import pytest

from conftest import wait_until
from sqs_helpers import (
    ACCOUNT, COMPUTED, NON_EXISTENT_QUEUE, PURGE_IN_PROGRESS, QUEUE_ALREADY_EXISTS,
    as_list, counts, expect_error, get_attrs, queue_arn, statements,
)

DEFAULTS = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
}


# --------------------------------------------------------------------------- CreateQueue


def test_create_standard_queue_defaults(sqs_any, unique_name):
    name = unique_name("std")
    t0 = int(time.time())
    url = sqs_any.create_queue(QueueName=name)["QueueUrl"]
    t1 = int(time.time())
    assert url.startswith("http")
    assert url.endswith(f"/{ACCOUNT}/{name}")
    attrs = get_attrs(sqs_any, url)
    for k, v in DEFAULTS.items():
        assert attrs[k] == v, (k, attrs)
    assert attrs["QueueArn"] == queue_arn(name)
    assert {k: attrs[k] for k in COMPUTED} == {k: "0" for k in COMPUTED}
    created = int(attrs["CreatedTimestamp"])
    assert t0 - 1 <= created <= t1 + 1
    assert int(attrs["LastModifiedTimestamp"]) >= created
    # A standard queue reports no FIFO attributes.
    assert "FifoQueue" not in attrs
    assert "ContentBasedDeduplication" not in attrs
    assert "RedrivePolicy" not in attrs and "Policy" not in attrs


def test_create_queue_with_attributes(sqs_any, unique_name):
    name = unique_name("attrs")
    given = {
        "VisibilityTimeout": "45",
        "MaximumMessageSize": "2048",
        "MessageRetentionPeriod": "3600",
        "DelaySeconds": "5",
        "ReceiveMessageWaitTimeSeconds": "3",
    }
    url = sqs_any.create_queue(QueueName=name, Attributes=given)["QueueUrl"]
    attrs = get_attrs(sqs_any, url)
    assert {k: attrs[k] for k in given} == given


def test_create_fifo_queue(sqs_any, unique_name):
    name = unique_name("fifo") + ".fifo"
    url = sqs_any.create_queue(
        QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{name}")
    attrs = get_attrs(sqs_any, url)
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"
    assert attrs["DeduplicationScope"] == "queue"
    assert attrs["FifoThroughputLimit"] == "perQueue"
    assert attrs["QueueArn"] == queue_arn(name)


def test_create_fifo_queue_high_throughput(sqs_any, unique_name):
    name = unique_name("hifi") + ".fifo"
    url = sqs_any.create_queue(QueueName=name, Attributes={
        "FifoQueue": "true", "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId"})["QueueUrl"]
    attrs = get_attrs(sqs_any, url, "DeduplicationScope", "FifoThroughputLimit", "ContentBasedDeduplication")
    assert attrs == {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId",
                     "ContentBasedDeduplication": "false"}


def test_create_queue_with_tags(sqs_any, unique_name):
    url = sqs_any.create_queue(QueueName=unique_name("tagged"),
                               tags={"team": "core", "env": "test"})["QueueUrl"]
    assert sqs_any.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "test"}


def test_create_queue_is_idempotent_with_same_attributes(sqs_any, unique_name):
    name = unique_name("idem")
    first = sqs_any.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    again = sqs_any.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    assert again == first
    bare = unique_name("idem-bare")
    assert sqs_any.create_queue(QueueName=bare)["QueueUrl"] == sqs_any.create_queue(QueueName=bare)["QueueUrl"]
    listed = sqs_any.list_queues(QueueNamePrefix=name)["QueueUrls"]
    assert listed == [first]


def test_create_queue_with_different_attributes_fails(sqs_any, unique_name):
    name = unique_name("clash")
    url = sqs_any.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    err = expect_error(sqs_any.create_queue, QUEUE_ALREADY_EXISTS, status=400,
                       QueueName=name, Attributes={"VisibilityTimeout": "46"})
    assert isinstance(err, sqs_any.exceptions.QueueNameExists)
    # The existing queue is untouched.
    assert get_attrs(sqs_any, url, "VisibilityTimeout") == {"VisibilityTimeout": "45"}


def _bad_names(base):
    return {
        "too-long": ("a" * 81, {}),
        "space": (base + " x", {}),
        "bang": (base + "!", {}),
        "dot": (base + ".x", {}),
        "fifo-suffix-on-standard": (base + ".fifo", {}),
        "fifo-without-suffix": (base, {"FifoQueue": "true"}),
        "fifo-too-long": ("f" * 76 + ".fifo", {"FifoQueue": "true"}),
    }


@pytest.mark.parametrize("case", list(_bad_names("x")))
def test_create_queue_invalid_name(sqs_any, unique_name, case):
    name, attrs = _bad_names(unique_name("bad"))[case]
    expect_error(sqs_any.create_queue, "InvalidParameterValue", status=400, QueueName=name, Attributes=attrs)
    assert sqs_any.list_queues(QueueNamePrefix=name[:60]).get("QueueUrls", []) == []


def test_create_queue_name_limits_accepted(sqs_any, unique_name):
    std = (unique_name("n80") + "-_" + "z" * 80)[:80]
    fifo = (unique_name("f80") + "z" * 80)[:75] + ".fifo"
    assert len(std) == 80 and len(fifo) == 80
    assert sqs_any.create_queue(QueueName=std)["QueueUrl"].endswith("/" + std)
    assert sqs_any.create_queue(QueueName=fifo, Attributes={"FifoQueue": "true"})["QueueUrl"].endswith("/" + fifo)


def test_queue_names_are_case_sensitive(sqs_any, unique_name):
    name = unique_name("Case")
    lower = sqs_any.create_queue(QueueName=name.lower())["QueueUrl"]
    upper = sqs_any.create_queue(QueueName=name.upper())["QueueUrl"]
    assert lower != upper
    assert sqs_any.get_queue_url(QueueName=name.upper())["QueueUrl"] == upper


def test_create_queue_rejects_bad_attributes(sqs_any, unique_name):
    expect_error(sqs_any.create_queue, "InvalidAttributeName", status=400,
                 QueueName=unique_name("badattr"), Attributes={"NoSuchAttribute": "1"})
    expect_error(sqs_any.create_queue, "InvalidAttributeValue", status=400,
                 QueueName=unique_name("badval"), Attributes={"VisibilityTimeout": "43201"})


# --------------------------------------------------------------------------- GetQueueUrl


def test_get_queue_url(sqs_any, unique_name):
    name = unique_name("url")
    url = sqs_any.create_queue(QueueName=name)["QueueUrl"]
    assert sqs_any.get_queue_url(QueueName=name)["QueueUrl"] == url
    assert sqs_any.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=ACCOUNT)["QueueUrl"] == url


def test_get_queue_url_missing(sqs_any, unique_name):
    err = expect_error(sqs_any.get_queue_url, NON_EXISTENT_QUEUE, status=400, QueueName=unique_name("none"))
    assert isinstance(err, sqs_any.exceptions.QueueDoesNotExist)


def test_get_queue_url_of_another_account(stratus, unique_name):
    owner = stratus.client("sqs", access_key="111111111111")
    other = stratus.client("sqs", access_key="222222222222")
    name = unique_name("shared")
    url = owner.create_queue(QueueName=name)["QueueUrl"]
    assert "/111111111111/" in url
    assert other.get_queue_url(QueueName=name, QueueOwnerAWSAccountId="111111111111")["QueueUrl"] == url
    expect_error(other.get_queue_url, NON_EXISTENT_QUEUE, QueueName=name)


# --------------------------------------------------------------------------- ListQueues


def test_list_queues_prefix(sqs_any, unique_name):
    prefix = unique_name("lst")
    urls = sorted(sqs_any.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(3))
    resp = sqs_any.list_queues(QueueNamePrefix=prefix)
    assert sorted(resp["QueueUrls"]) == urls
    assert "NextToken" not in resp
    assert sqs_any.list_queues(QueueNamePrefix=prefix + "-nothing").get("QueueUrls", []) == []
    # The prefix is case-sensitive.
    assert sqs_any.list_queues(QueueNamePrefix=prefix.upper()).get("QueueUrls", []) == []


def test_list_queues_pagination(sqs_any, unique_name):
    prefix = unique_name("page")
    urls = {sqs_any.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(5)}
    seen, pages, token = [], [], None
    while True:
        kwargs = {"QueueNamePrefix": prefix, "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        resp = sqs_any.list_queues(**kwargs)
        pages.append(len(resp.get("QueueUrls", [])))
        seen += resp.get("QueueUrls", [])
        token = resp.get("NextToken")
        if not token:
            break
        assert len(pages) < 10, "pagination does not terminate"
    assert pages[:3] == [2, 2, 1]
    assert len(seen) == len(set(seen)) == 5
    assert set(seen) == urls


def test_list_queues_max_results_all_fit(sqs_any, unique_name):
    prefix = unique_name("fit")
    urls = {sqs_any.create_queue(QueueName=f"{prefix}-{i}")["QueueUrl"] for i in range(2)}
    resp = sqs_any.list_queues(QueueNamePrefix=prefix, MaxResults=10)
    assert set(resp["QueueUrls"]) == urls
    assert not resp.get("NextToken")


# --------------------------------------------------------------------------- GetQueueAttributes


def test_get_queue_attributes_individual(sqs_any, unique_name):
    name = unique_name("ind")
    url = sqs_any.create_queue(QueueName=name)["QueueUrl"]
    attrs = get_attrs(sqs_any, url, "VisibilityTimeout", "QueueArn")
    assert attrs == {"VisibilityTimeout": "30", "QueueArn": queue_arn(name)}
    # No names → no attributes.
    assert sqs_any.get_queue_attributes(QueueUrl=url).get("Attributes", {}) == {}
    expect_error(sqs_any.get_queue_attributes, "InvalidAttributeName", status=400,
                 QueueUrl=url, AttributeNames=["NoSuchAttribute"])


def test_computed_message_counts(sqs_any, unique_name):
    url = sqs_any.create_queue(QueueName=unique_name("cnt"))["QueueUrl"]
    for i in range(3):
        sqs_any.send_message(QueueUrl=url, MessageBody=f"visible-{i}")
    sqs_any.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=900)
    assert counts(sqs_any, url) == (3, 0, 1)
    got = sqs_any.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=60)["Messages"]
    assert len(got) == 2
    assert counts(sqs_any, url) == (1, 2, 1)
    sqs_any.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert counts(sqs_any, url) == (1, 1, 1)


def test_last_modified_timestamp_moves_on_set(sqs_any, unique_name):
    url = sqs_any.create_queue(QueueName=unique_name("lmt"))["QueueUrl"]
    before = get_attrs(sqs_any, url, "CreatedTimestamp", "LastModifiedTimestamp")
    time.sleep(1.1)
    sqs_any.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "31"})
    after = get_attrs(sqs_any, url, "CreatedTimestamp", "LastModifiedTimestamp")
    assert after["CreatedTimestamp"] == before["CreatedTimestamp"]
    assert int(after["LastModifiedTimestamp"]) > int(before["LastModifiedTimestamp"])


# --------------------------------------------------------------------------- SetQueueAttributes

RANGES = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1048576),
    "MessageRetentionPeriod": (60, 1209600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43200),
    "KmsDataKeyReusePeriodSeconds": (60, 86400),
}


@pytest.mark.parametrize("attr", sorted(RANGES))
def test_set_queue_attributes_range(sqs_any, unique_name, attr):
    lo, hi = RANGES[attr]
    # The data key reuse period belongs to SSE-KMS, so give that queue a key.
    extra = {"KmsMasterKeyId": "alias/aws/sqs"} if attr.startswith("Kms") else {}
    url = sqs_any.create_queue(QueueName=unique_name("rng"), Attributes=extra)["QueueUrl"]
    for ok in (lo, hi):
        sqs_any.set_queue_attributes(QueueUrl=url, Attributes={attr: str(ok)})
        assert get_attrs(sqs_any, url, attr) == {attr: str(ok)}
    for bad in (str(lo - 1), str(hi + 1), "abc"):
        expect_error(sqs_any.set_queue_attributes, "InvalidAttributeValue", status=400,
                     QueueUrl=url, Attributes={attr: bad})
    # A rejected value leaves the attribute as it was.
    assert get_attrs(sqs_any, url, attr) == {attr: str(hi)}


def test_set_queue_attributes_unknown_name(sqs_any, unique_name):
    url = sqs_any.create_queue(QueueName=unique_name("unk"))["QueueUrl"]
    expect_error(sqs_any.set_queue_attributes, "InvalidAttributeName", status=400,
                 QueueUrl=url, Attributes={"NoSuchAttribute": "1"})
    # A request with one bad name changes nothing, not even the valid part.
    expect_error(sqs_any.set_queue_attributes, "InvalidAttributeName",
                 QueueUrl=url, Attributes={"VisibilityTimeout": "99", "NoSuchAttribute": "1"})
    assert get_attrs(sqs_any, url, "VisibilityTimeout") == {"VisibilityTimeout": "30"}


def test_redrive_policy_round_trip(sqs_any, unique_name):
    dlq_name, src_name = unique_name("dlq"), unique_name("src")
    dlq = sqs_any.create_queue(QueueName=dlq_name)["QueueUrl"]
    src = sqs_any.create_queue(QueueName=src_name)["QueueUrl"]
    policy = {"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": 5}
    sqs_any.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": json.dumps(policy)})
    got = json.loads(get_attrs(sqs_any, src, "RedrivePolicy")["RedrivePolicy"])
    assert got["deadLetterTargetArn"] == policy["deadLetterTargetArn"]
    assert int(got["maxReceiveCount"]) == 5

    allow = {"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn(src_name)]}
    sqs_any.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps(allow)})
    assert json.loads(get_attrs(sqs_any, dlq, "RedriveAllowPolicy")["RedriveAllowPolicy"]) == allow

    # An empty value removes the redrive policy.
    sqs_any.set_queue_attributes(QueueUrl=src, Attributes={"RedrivePolicy": ""})
    assert "RedrivePolicy" not in get_attrs(sqs_any, src)


def test_policy_round_trip(sqs_any, unique_name):
    name = unique_name("pol")
    url = sqs_any.create_queue(QueueName=name)["QueueUrl"]
    doc = {
        "Version": "2012-10-17",
        "Id": "custom",
        "Statement": [{
            "Sid": "AllowSend", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
            "Action": "sqs:SendMessage", "Resource": queue_arn(name),
        }],
    }
    sqs_any.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(doc)})
    assert json.loads(get_attrs(sqs_any, url, "Policy")["Policy"]) == doc
    sqs_any.set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})
    assert "Policy" not in get_attrs(sqs_any, url)


def test_kms_attributes_stored_and_reported(sqs_any, unique_name):
    url = sqs_any.create_queue(QueueName=unique_name("kms"), Attributes={
        "KmsMasterKeyId": "alias/aws/sqs", "KmsDataKeyReusePeriodSeconds": "120"})["QueueUrl"]
    attrs = get_attrs(sqs_any, url)
    assert attrs["KmsMasterKeyId"] == "alias/aws/sqs"
    assert attrs["KmsDataKeyReusePeriodSeconds"] == "120"
    sqs_any.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "alias/custom"})
    assert get_attrs(sqs_any, url, "KmsMasterKeyId") == {"KmsMasterKeyId": "alias/custom"}


# --------------------------------------------------------------------------- DeleteQueue / PurgeQueue


def test_delete_queue_then_use(sqs_any, unique_name):
    name = unique_name("del")
    url = sqs_any.create_queue(QueueName=name)["QueueUrl"]
    sqs_any.send_message(QueueUrl=url, MessageBody="x")
    sqs_any.delete_queue(QueueUrl=url)
    expect_error(sqs_any.get_queue_url, NON_EXISTENT_QUEUE, QueueName=name)
    expect_error(sqs_any.get_queue_attributes, NON_EXISTENT_QUEUE, QueueUrl=url, AttributeNames=["All"])
    expect_error(sqs_any.send_message, NON_EXISTENT_QUEUE, QueueUrl=url, MessageBody="y")
    expect_error(sqs_any.receive_message, NON_EXISTENT_QUEUE, QueueUrl=url)
    expect_error(sqs_any.delete_queue, NON_EXISTENT_QUEUE, QueueUrl=url)
    assert sqs_any.list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []


@pytest.mark.parametrize("op,kwargs", [
    ("get_queue_attributes", {"AttributeNames": ["All"]}),
    ("set_queue_attributes", {"Attributes": {"VisibilityTimeout": "1"}}),
    ("purge_queue", {}),
    ("list_queue_tags", {}),
    ("tag_queue", {"Tags": {"a": "b"}}),
    ("untag_queue", {"TagKeys": ["a"]}),
    ("list_dead_letter_source_queues", {}),
    ("add_permission", {"Label": "L", "AWSAccountIds": ["111111111111"], "Actions": ["SendMessage"]}),
])
def test_operations_on_missing_queue(sqs_any, stratus, unique_name, op, kwargs):
    url = f"{stratus.endpoint}/{ACCOUNT}/{unique_name('missing')}"
    err = expect_error(getattr(sqs_any, op), NON_EXISTENT_QUEUE, status=400, QueueUrl=url, **kwargs)
    assert isinstance(err, sqs_any.exceptions.QueueDoesNotExist)


def test_purge_queue_and_60s_rule(sqs_any, unique_name):
    url = sqs_any.create_queue(QueueName=unique_name("purge"))["QueueUrl"]
    for i in range(3):
        sqs_any.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs_any.send_message(QueueUrl=url, MessageBody="late", DelaySeconds=900)
    inflight = sqs_any.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"]
    assert len(inflight) == 1
    sqs_any.purge_queue(QueueUrl=url)
    assert wait_until(lambda: counts(sqs_any, url) == (0, 0, 0), timeout=5)
    assert sqs_any.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    expect_error(sqs_any.purge_queue, PURGE_IN_PROGRESS, QueueUrl=url)
    # The queue itself is still usable.
    sqs_any.send_message(QueueUrl=url, MessageBody="after")
    assert [m["Body"] for m in sqs_any.receive_message(QueueUrl=url)["Messages"]] == ["after"]


# --------------------------------------------------------------------------- Tags


def test_tag_untag_list(sqs_any, unique_name):
    url = sqs_any.create_queue(QueueName=unique_name("tags"))["QueueUrl"]
    assert sqs_any.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}
    sqs_any.tag_queue(QueueUrl=url, Tags={"a": "1", "b": "2"})
    sqs_any.tag_queue(QueueUrl=url, Tags={"b": "20", "c": "3"})
    assert sqs_any.list_queue_tags(QueueUrl=url)["Tags"] == {"a": "1", "b": "20", "c": "3"}
    sqs_any.untag_queue(QueueUrl=url, TagKeys=["a", "c", "not-there"])
    assert sqs_any.list_queue_tags(QueueUrl=url)["Tags"] == {"b": "20"}
    # Tags are case-sensitive.
    sqs_any.tag_queue(QueueUrl=url, Tags={"B": "upper"})
    assert sqs_any.list_queue_tags(QueueUrl=url)["Tags"] == {"b": "20", "B": "upper"}


# --------------------------------------------------------------------------- Permissions


def _policy_by_sid(client, url):
    return {s["Sid"]: s for s in statements(get_attrs(client, url, "Policy").get("Policy"))}


def test_add_remove_permission(sqs_any, unique_name):
    name = unique_name("perm")
    url = sqs_any.create_queue(QueueName=name)["QueueUrl"]
    sqs_any.add_permission(QueueUrl=url, Label="AliceSend", AWSAccountIds=["111111111111"],
                           Actions=["SendMessage"])
    sqs_any.add_permission(QueueUrl=url, Label="BobRead", AWSAccountIds=["222222222222", "333333333333"],
                           Actions=["ReceiveMessage", "DeleteMessage"])
    policy = json.loads(get_attrs(sqs_any, url, "Policy")["Policy"])
    # AWS writes the generated policy in the 2008-10-17 policy language.
    assert policy["Version"] == "2008-10-17"
    assert policy["Id"] == f"{queue_arn(name)}/SQSDefaultPolicy"
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {"AliceSend", "BobRead"}
    alice, bob = by_sid["AliceSend"], by_sid["BobRead"]
    assert alice["Effect"] == "Allow" and alice["Resource"] == queue_arn(name)
    assert as_list(alice["Principal"]["AWS"]) == ["arn:aws:iam::111111111111:root"]
    assert as_list(alice["Action"]) == ["SQS:SendMessage"]
    assert sorted(as_list(bob["Principal"]["AWS"])) == [
        "arn:aws:iam::222222222222:root", "arn:aws:iam::333333333333:root"]
    assert sorted(as_list(bob["Action"])) == ["SQS:DeleteMessage", "SQS:ReceiveMessage"]

    expect_error(sqs_any.add_permission, "InvalidParameterValue", status=400, QueueUrl=url,
                 Label="AliceSend", AWSAccountIds=["111111111111"], Actions=["SendMessage"])

    sqs_any.remove_permission(QueueUrl=url, Label="AliceSend")
    assert set(_policy_by_sid(sqs_any, url)) == {"BobRead"}
    expect_error(sqs_any.remove_permission, "InvalidParameterValue", status=400, QueueUrl=url,
                 Label="AliceSend")
    sqs_any.remove_permission(QueueUrl=url, Label="BobRead")
    # Removing the last statement removes the Policy attribute altogether.
    assert "Policy" not in get_attrs(sqs_any, url)


# --------------------------------------------------------------------------- Dead-letter sources


def test_list_dead_letter_source_queues(sqs_any, unique_name):
    dlq_name = unique_name("dlq")
    dlq = sqs_any.create_queue(QueueName=dlq_name)["QueueUrl"]
    redrive = json.dumps({"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": 3})
    sources = sorted(
        sqs_any.create_queue(QueueName=unique_name(f"src{i}"), Attributes={"RedrivePolicy": redrive})["QueueUrl"]
        for i in range(3))
    unrelated = sqs_any.create_queue(QueueName=unique_name("plain"))["QueueUrl"]
    assert sorted(sqs_any.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]) == sources
    # (an empty list is absent from a query-protocol response)
    assert sqs_any.list_dead_letter_source_queues(QueueUrl=unrelated).get("queueUrls", []) == []

    first = sqs_any.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2)
    assert len(first["queueUrls"]) == 2 and first.get("NextToken")
    rest = sqs_any.list_dead_letter_source_queues(QueueUrl=dlq, MaxResults=2, NextToken=first["NextToken"])
    assert sorted(first["queueUrls"] + rest["queueUrls"]) == sources

    sqs_any.set_queue_attributes(QueueUrl=sources[0], Attributes={"RedrivePolicy": ""})
    assert sorted(sqs_any.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"]) == sources[1:]


# --------------------------------------------------------------------------- Isolation and URL forms


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_account_isolation(stratus, unique_name, protocol):
    a = stratus.client("sqs", protocol=protocol, access_key="111111111111")
    b = stratus.client("sqs", protocol=protocol, access_key="222222222222")
    name = unique_name("acct")
    url_a = a.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "10"})["QueueUrl"]
    assert url_a.endswith(f"/111111111111/{name}")
    assert get_attrs(a, url_a, "QueueArn")["QueueArn"] == queue_arn(name, account="111111111111")
    assert b.list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []
    expect_error(b.get_queue_url, NON_EXISTENT_QUEUE, QueueName=name)
    # The same name with other attributes is a different queue in account B.
    url_b = b.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "20"})["QueueUrl"]
    assert url_b.endswith(f"/222222222222/{name}") and url_b != url_a
    assert get_attrs(a, url_a, "VisibilityTimeout") == {"VisibilityTimeout": "10"}
    assert get_attrs(b, url_b, "VisibilityTimeout") == {"VisibilityTimeout": "20"}
    a.send_message(QueueUrl=url_a, MessageBody="for-a")
    assert b.receive_message(QueueUrl=url_b).get("Messages", []) == []
    assert [m["Body"] for m in a.receive_message(QueueUrl=url_a)["Messages"]] == ["for-a"]


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_region_isolation(stratus, unique_name, protocol):
    east = stratus.client("sqs", protocol=protocol, region="us-east-1")
    west = stratus.client("sqs", protocol=protocol, region="eu-west-1")
    name = unique_name("region")
    url_w = west.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})["QueueUrl"]
    assert get_attrs(west, url_w, "QueueArn")["QueueArn"] == queue_arn(name, region="eu-west-1")
    assert east.list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []
    expect_error(east.get_queue_url, NON_EXISTENT_QUEUE, QueueName=name)
    url_e = east.create_queue(QueueName=name, Attributes={"DelaySeconds": "2"})["QueueUrl"]
    assert get_attrs(east, url_e, "QueueArn")["QueueArn"] == queue_arn(name, region="us-east-1")
    assert west.list_queues(QueueNamePrefix=name)["QueueUrls"] == [url_w]


@pytest.mark.parametrize("host", ["sqs.us-east-1.localhost", "localhost", "127.0.0.1"])
def test_queue_url_forms_resolve(sqs_any, stratus, unique_name, host):
    name = unique_name("form")
    sqs_any.create_queue(QueueName=name)
    alt = f"http://{host}:{stratus.port}/{ACCOUNT}/{name}"
    assert get_attrs(sqs_any, alt, "QueueArn") == {"QueueArn": queue_arn(name)}
    sqs_any.send_message(QueueUrl=alt, MessageBody="via-" + host)
    url = sqs_any.get_queue_url(QueueName=name)["QueueUrl"]
    assert [m["Body"] for m in sqs_any.receive_message(QueueUrl=url)["Messages"]] == ["via-" + host]


# --------------------------------------------------------------------------- STS


@pytest.mark.parametrize("key,account", [
    ("111111111111", "111111111111"),
    ("123456789012", "123456789012"),
    ("test", "000000000000"),
    ("AKIAIOSFODNN7EXAMPLE", "000000000000"),
])
def test_sts_get_caller_identity(stratus, key, account):
    ident = stratus.client("sts", access_key=key).get_caller_identity()
    assert ident["Account"] == account
    assert ident["Arn"].startswith("arn:aws:")
    assert f":{account}:" in ident["Arn"]
    assert ident["UserId"]
