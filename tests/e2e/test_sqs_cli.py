"""SQS and STS through the real AWS CLI (v1), in both SQS wire protocols.

The CLI does not check MD5s itself, so the tests recompute MD5OfBody and
MD5OfMessageAttributes from what was sent and compare them with what the
server answered (on send and on receive)."""
import base64
import json

import pytest

from sqs_helpers import ACCOUNT, NON_EXISTENT_QUEUE, md5_hex, md5_of_message_attributes, queue_arn

both_protocols = pytest.mark.parametrize("protocol", ["json", "query"])


def sqs_cli(stratus, *args, **kwargs):
    """`aws sqs ...` against Stratus. CLI v1 pins SQS in us-east-1 to
    https://queue.amazonaws.com (its SSL-common-name customization) unless
    --endpoint-url is given, which beats AWS_ENDPOINT_URL, so pass it."""
    return stratus.cli("sqs", *args, "--endpoint-url", stratus.endpoint, **kwargs)


@both_protocols
def test_cli_create_list_get_attributes(stratus, unique_name, protocol):
    name = unique_name("cli")
    out = sqs_cli(stratus, "create-queue", "--queue-name", name,
                      "--attributes", "VisibilityTimeout=7,DelaySeconds=2",
                      "--tags", "team=core", protocol=protocol).json
    url = out["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{name}")

    listed = sqs_cli(stratus, "list-queues", "--queue-name-prefix", name, protocol=protocol).json
    assert listed["QueueUrls"] == [url]

    attrs = sqs_cli(stratus, "get-queue-attributes", "--queue-url", url,
                        "--attribute-names", "All", protocol=protocol).json["Attributes"]
    assert attrs["VisibilityTimeout"] == "7"
    assert attrs["DelaySeconds"] == "2"
    assert attrs["QueueArn"] == queue_arn(name)
    assert attrs["ApproximateNumberOfMessages"] == "0"

    tags = sqs_cli(stratus, "list-queue-tags", "--queue-url", url, protocol=protocol).json
    assert tags["Tags"] == {"team": "core"}


@both_protocols
def test_cli_send_receive_delete(stratus, sqs, unique_name, protocol):
    url = sqs.create_queue(QueueName=unique_name("clim"))["QueueUrl"]
    body = "héllo from the CLI ✓"
    sent_attrs = {
        "color": {"DataType": "String", "StringValue": "blue"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": "raw-bytes"},
    }
    sent = sqs_cli(stratus, "send-message", "--queue-url", url, "--message-body", body,
                       "--message-attributes", json.dumps(sent_attrs), protocol=protocol).json
    # CLI v1 passes a blob given in JSON through as its raw bytes.
    expected_attr_md5 = md5_of_message_attributes(
        {**sent_attrs, "blob": {"DataType": "Binary", "BinaryValue": b"raw-bytes"}})
    assert sent["MD5OfMessageBody"] == md5_hex(body)
    assert sent["MD5OfMessageAttributes"] == expected_attr_md5
    assert sent["MessageId"]

    got = sqs_cli(stratus, "receive-message", "--queue-url", url, "--attribute-names", "All",
                      "--message-attribute-names", "All", "--visibility-timeout", "30",
                      protocol=protocol).json
    [msg] = got["Messages"]
    assert msg["MessageId"] == sent["MessageId"]
    assert msg["Body"] == body
    assert msg["MD5OfBody"] == md5_hex(body)
    assert msg["MD5OfMessageAttributes"] == expected_attr_md5
    assert msg["MessageAttributes"]["color"] == {"DataType": "String", "StringValue": "blue"}
    assert msg["MessageAttributes"]["count"] == {"DataType": "Number", "StringValue": "42"}
    assert msg["MessageAttributes"]["blob"]["DataType"] == "Binary"
    assert base64.b64decode(msg["MessageAttributes"]["blob"]["BinaryValue"]) == b"raw-bytes"
    assert msg["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(msg["Attributes"]["SentTimestamp"]) > 0
    assert int(msg["Attributes"]["ApproximateFirstReceiveTimestamp"]) >= int(msg["Attributes"]["SentTimestamp"])
    assert msg["Attributes"]["SenderId"]

    done = sqs_cli(stratus, "delete-message", "--queue-url", url, "--receipt-handle", msg["ReceiptHandle"],
                       protocol=protocol)
    assert done.returncode == 0
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


@both_protocols
def test_cli_send_message_batch(stratus, sqs, unique_name, protocol):
    url = sqs.create_queue(QueueName=unique_name("clib"))["QueueUrl"]
    entries = [
        {"Id": "a", "MessageBody": "first"},
        {"Id": "b", "MessageBody": "second",
         "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
        {"Id": "c", "MessageBody": "third", "DelaySeconds": 0},
    ]
    out = sqs_cli(stratus, "send-message-batch", "--queue-url", url, "--entries", json.dumps(entries),
                      protocol=protocol).json
    assert out.get("Failed", []) == []
    by_id = {e["Id"]: e for e in out["Successful"]}
    assert set(by_id) == {"a", "b", "c"}
    for e in entries:
        assert by_id[e["Id"]]["MD5OfMessageBody"] == md5_hex(e["MessageBody"])
    assert by_id["b"]["MD5OfMessageAttributes"] == md5_of_message_attributes(entries[1]["MessageAttributes"])
    assert "MD5OfMessageAttributes" not in by_id["a"]

    got = sqs_cli(stratus, "receive-message", "--queue-url", url, "--max-number-of-messages", "10",
                      "--message-attribute-names", "All", protocol=protocol).json["Messages"]
    assert sorted(m["Body"] for m in got) == ["first", "second", "third"]
    assert {m["MessageId"] for m in got} == {e["MessageId"] for e in out["Successful"]}


@both_protocols
def test_cli_delete_queue_then_errors(stratus, sqs, unique_name, protocol):
    name = unique_name("clid")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert sqs_cli(stratus, "delete-queue", "--queue-url", url, protocol=protocol).returncode == 0

    missing = sqs_cli(stratus, "get-queue-url", "--queue-name", name, protocol=protocol, check=False)
    assert missing.returncode in (254, 255)
    assert f"({NON_EXISTENT_QUEUE})" in missing.stderr
    assert "GetQueueUrl" in missing.stderr
    assert missing.stdout.strip() == ""

    send = sqs_cli(stratus, "send-message", "--queue-url", url, "--message-body", "x",
                       protocol=protocol, check=False)
    assert send.returncode in (254, 255)
    assert f"({NON_EXISTENT_QUEUE})" in send.stderr


@pytest.mark.parametrize("key,account", [("210987654321", "210987654321"), ("test", "000000000000")])
def test_cli_sts_get_caller_identity(stratus, key, account):
    ident = stratus.cli("sts", "get-caller-identity", access_key=key).json
    assert ident["Account"] == account
    assert f":{account}:" in ident["Arn"]
    assert ident["UserId"]
