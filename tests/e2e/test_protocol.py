"""Wire protocol, identity and server behaviour: raw awsJson1.0 and awsQuery
requests (with `requests`), SigV4 identity (account and region), `--auth verify`
with header and presigned query signatures, STS, the health and metrics
endpoints, the CLI's usage text and clean exits on signals."""
import re
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import pytest
import requests
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCOUNT, STRATUS_BIN, Stratus, raw_post

SQS_VERSION = "2012-11-05"
STS_VERSION = "2011-06-15"


# ---------------------------------------------------------------- helpers


def xml(resp):
    """Parse an XML body with the namespaces stripped from the tags."""
    root = ET.fromstring(resp.content)
    for el in root.iter():
        el.tag = el.tag.split("}", 1)[-1]
    return root


def query(endpoint, params, path="/", method="POST", headers=None):
    if method == "GET":
        return requests.get(endpoint + path, params=params, headers=headers, timeout=30)
    return requests.post(endpoint + path, data=params, headers=headers, timeout=30)


def signed(endpoint, service, body, headers, access_key="test", secret="test", region="us-east-1", path="/"):
    req = AWSRequest(method="POST", url=endpoint + path, data=body, headers=headers)
    SigV4Auth(Credentials(access_key, secret), service, region).add_auth(req)
    return requests.post(req.url, data=req.body, headers=dict(req.headers.items()), timeout=30)


def json_error_code(resp):
    return resp.json().get("__type", "")


def err(excinfo):
    return excinfo.value.response["Error"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------- awsJson 1.0


def test_json_request_unsigned_returns_request_id(stratus):
    resp = raw_post(stratus.endpoint, "AmazonSQS.ListQueues", {})
    assert resp.status_code == 200
    assert resp.headers["x-amzn-RequestId"]
    assert resp.headers["Content-Type"].startswith("application/x-amz-json-1.0")
    assert isinstance(resp.json(), dict)


def test_json_create_queue_and_send(stratus, unique_name):
    name = unique_name("raw")
    resp = raw_post(stratus.endpoint, "AmazonSQS.CreateQueue", {"QueueName": name})
    assert resp.status_code == 200
    url = resp.json()["QueueUrl"]
    assert url.endswith(f"/{ACCOUNT}/{name}")
    sent = raw_post(stratus.endpoint, "AmazonSQS.SendMessage", {"QueueUrl": url, "MessageBody": "hi"}).json()
    assert sent["MD5OfMessageBody"] == "49f68a5c8493ec2c0bf489821c21fc3b"
    assert sent["MessageId"]


def test_json_error_shape(stratus):
    resp = raw_post(stratus.endpoint, "AmazonSQS.GetQueueUrl", {"QueueName": "definitely-not-a-queue"})
    assert resp.status_code == 400
    body = resp.json()
    assert body["__type"] == "com.amazonaws.sqs#QueueDoesNotExist"
    assert "does not exist" in (body.get("message") or body.get("Message"))
    assert resp.headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    assert resp.headers["x-amzn-RequestId"]


@pytest.mark.parametrize("target", ["AmazonSQS.NoSuchOperation", "NoSuchService_20200101.DoThing"])
def test_json_unknown_operation_is_a_client_error(stratus, target):
    # AWS answers an unknown operation with UnknownOperationException (or, for
    # query-compatible services, InvalidAction): a client error, never a 5xx.
    resp = raw_post(stratus.endpoint, target, {})
    assert resp.status_code in (400, 404)
    assert re.search(r"(UnknownOperationException|InvalidAction)$", json_error_code(resp)), resp.text


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]", b"\xff\xfe"])
def test_json_malformed_body(stratus, body):
    resp = raw_post(stratus.endpoint, headers={"X-Amz-Target": "AmazonSQS.ListQueues",
                                               "Content-Type": "application/x-amz-json-1.0"}, data=body)
    assert resp.status_code == 400
    assert "SerializationException" in json_error_code(resp)


def test_json_wrong_member_type(stratus):
    resp = raw_post(stratus.endpoint, "AmazonSQS.CreateQueue", {"QueueName": 123})
    assert resp.status_code == 400
    assert json_error_code(resp)


def test_json_missing_required_member(stratus):
    resp = raw_post(stratus.endpoint, "AmazonSQS.SendMessage", {"MessageBody": "no queue url"})
    assert resp.status_code == 400
    assert json_error_code(resp)
    assert resp.headers.get("x-amzn-query-error", "").endswith(";Sender")


# ---------------------------------------------------------------- awsQuery


def test_query_create_queue_xml(stratus, unique_name):
    name = unique_name("q")
    resp = query(stratus.endpoint, {"Action": "CreateQueue", "QueueName": name, "Version": SQS_VERSION})
    assert resp.status_code == 200
    assert "xml" in resp.headers["Content-Type"]
    assert b"http://queue.amazonaws.com/doc/2012-11-05/" in resp.content
    root = xml(resp)
    assert root.tag == "CreateQueueResponse"
    assert root.find("CreateQueueResult/QueueUrl").text.endswith(f"/{ACCOUNT}/{name}")
    assert root.find("ResponseMetadata/RequestId").text


def test_query_get_with_action_in_query_string(stratus):
    resp = query(stratus.endpoint, {"Action": "ListQueues", "Version": SQS_VERSION}, method="GET")
    assert resp.status_code == 200
    root = xml(resp)
    assert root.tag == "ListQueuesResponse"
    assert root.find("ListQueuesResult") is not None


def test_query_error_xml(stratus):
    resp = query(stratus.endpoint, {"Action": "GetQueueUrl", "QueueName": "no-such-queue", "Version": SQS_VERSION})
    assert resp.status_code == 400
    root = xml(resp)
    assert root.tag == "ErrorResponse"
    assert root.find("Error/Type").text == "Sender"
    assert root.find("Error/Code").text == "AWS.SimpleQueueService.NonExistentQueue"
    assert root.find("Error/Message").text
    assert root.find("RequestId").text


def test_query_post_to_queue_url_path(stratus, sqs, unique_name):
    url = sqs.create_queue(QueueName=unique_name("path"))["QueueUrl"]
    resp = query(stratus.endpoint, {"Action": "SendMessage", "MessageBody": "hi", "Version": SQS_VERSION},
                 path=urlparse(url).path)
    assert resp.status_code == 200, resp.text
    root = xml(resp)
    assert root.tag == "SendMessageResponse"
    assert root.find("SendMessageResult/MD5OfMessageBody").text == "49f68a5c8493ec2c0bf489821c21fc3b"
    msg_id = root.find("SendMessageResult/MessageId").text
    got = sqs.receive_message(QueueUrl=url).get("Messages", [])
    assert [(m["MessageId"], m["Body"]) for m in got] == [(msg_id, "hi")]


def test_query_message_attributes_flattened(stratus, sqs, unique_name):
    url = sqs.create_queue(QueueName=unique_name("attr"))["QueueUrl"]
    resp = query(stratus.endpoint, {
        "Action": "SendMessage", "Version": SQS_VERSION, "QueueUrl": url, "MessageBody": "m",
        "MessageAttribute.1.Name": "color", "MessageAttribute.1.Value.DataType": "String",
        "MessageAttribute.1.Value.StringValue": "blue"})
    assert resp.status_code == 200, resp.text
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
    assert got["MessageAttributes"] == {"color": {"DataType": "String", "StringValue": "blue"}}


def test_query_unknown_action(stratus):
    resp = query(stratus.endpoint, {"Action": "NoSuchAction", "Version": SQS_VERSION})
    assert resp.status_code == 400
    root = xml(resp)
    assert root.tag == "ErrorResponse"
    assert root.find("Error/Code").text == "InvalidAction"


def test_query_missing_required_parameter(stratus):
    resp = query(stratus.endpoint, {"Action": "SendMessage", "MessageBody": "x", "Version": SQS_VERSION})
    assert resp.status_code == 400
    root = xml(resp)
    assert root.find("Error/Type").text == "Sender"
    assert root.find("Error/Code").text


# ---------------------------------------------------------------- identity


def test_twelve_digit_access_key_selects_account(stratus, unique_name):
    name = unique_name("acct")
    mine = stratus.client("sqs", access_key="111122223333")
    url = mine.create_queue(QueueName=name)["QueueUrl"]
    assert "/111122223333/" in url
    arn = mine.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == f"arn:aws:sqs:us-east-1:111122223333:{name}"
    # Another account doesn't see the queue.
    with pytest.raises(ClientError) as e:
        stratus.client("sqs").get_queue_url(QueueName=name)
    assert err(e)["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_raw_signed_request_account_from_credential(stratus, unique_name):
    name = unique_name("sig")
    resp = signed(stratus.endpoint, "sqs", f'{{"QueueName": "{name}"}}',
                  {"X-Amz-Target": "AmazonSQS.CreateQueue", "Content-Type": "application/x-amz-json-1.0"},
                  access_key="444455556666")
    assert resp.status_code == 200
    assert "/444455556666/" in resp.json()["QueueUrl"]


def test_region_from_credential_scope(stratus, unique_name):
    name = unique_name("reg")
    eu = stratus.client("sqs", region="eu-west-1")
    url = eu.create_queue(QueueName=name)["QueueUrl"]
    arn = eu.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{name}"
    # Queues are regional.
    with pytest.raises(ClientError) as e:
        stratus.client("sqs", region="us-east-1").get_queue_url(QueueName=name)
    assert err(e)["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert eu.get_queue_url(QueueName=name)["QueueUrl"] == url


# ---------------------------------------------------------------- --auth verify

VERIFY_KEY, VERIFY_SECRET = "AKIDTEST", "secretkey"


@pytest.fixture(scope="module")
def verifying(tmp_path_factory):
    server = Stratus(tmp_path_factory.mktemp("verify"), store="memory",
                     extra_args=["--auth", "verify", "--credentials", f"{VERIFY_KEY}:{VERIFY_SECRET}"]).start()
    yield server
    assert server.stop() == 0


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_verify_accepts_correct_signature(verifying, protocol, unique_name):
    c = verifying.client("sqs", protocol=protocol, access_key=VERIFY_KEY, secret_key=VERIFY_SECRET)
    url = c.create_queue(QueueName=unique_name("v"))["QueueUrl"]
    c.send_message(QueueUrl=url, MessageBody="signed " + "ü" * 10)
    assert c.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "signed " + "ü" * 10


@pytest.mark.parametrize("protocol", ["json", "query"])
@pytest.mark.parametrize("key,secret,code", [
    (VERIFY_KEY, "wrong-secret", "SignatureDoesNotMatch"),
    ("AKIDUNKNOWN", VERIFY_SECRET, "InvalidClientTokenId"),
])
def test_verify_rejects_bad_credentials(verifying, protocol, key, secret, code):
    c = verifying.client("sqs", protocol=protocol, access_key=key, secret_key=secret)
    with pytest.raises(ClientError) as e:
        c.list_queues()
    assert err(e)["Code"] == code
    assert status(e) == 403


def test_verify_rejects_unsigned_request(verifying):
    resp = raw_post(verifying.endpoint, "AmazonSQS.ListQueues", {})
    assert resp.status_code == 403
    assert "MissingAuthenticationToken" in json_error_code(resp) + resp.headers.get("x-amzn-query-error", "")


def test_verify_sts_with_correct_signature(verifying):
    sts = verifying.client("sts", access_key=VERIFY_KEY, secret_key=VERIFY_SECRET)
    assert sts.get_caller_identity()["Account"] == ACCOUNT


def presigned_url(endpoint, params, secret=VERIFY_SECRET, expires=300):
    qs = "&".join(f"{k}={v}" for k, v in params.items())
    req = AWSRequest(method="GET", url=f"{endpoint}/?{qs}")
    SigV4QueryAuth(Credentials(VERIFY_KEY, secret), "sqs", "us-east-1", expires=expires).add_auth(req)
    return req.url


def test_verify_presigned_query_request(verifying):
    url = presigned_url(verifying.endpoint, {"Action": "ListQueues", "Version": SQS_VERSION})
    assert "X-Amz-Signature=" in url and "Authorization" not in url
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    assert xml(resp).tag == "ListQueuesResponse"


def test_verify_presigned_sts_get_caller_identity(verifying):
    # The pattern behind EKS tokens and Vault's AWS auth: a presigned GET of
    # GetCallerIdentity. (boto3's generate_presigned_url signs query-protocol
    # calls as POST, so a GET of its URL fails on AWS too; sign the GET here.)
    qs = "Action=GetCallerIdentity&Version=2011-06-15"
    req = AWSRequest(method="GET", url=f"{verifying.endpoint}/?{qs}")
    SigV4QueryAuth(Credentials(VERIFY_KEY, VERIFY_SECRET), "sts", "us-east-1", expires=60).add_auth(req)
    resp = requests.get(req.url, timeout=30)
    assert resp.status_code == 200, resp.text
    assert "<Account>000000000000</Account>" in resp.text

def test_verify_presigned_with_wrong_secret(verifying):
    url = presigned_url(verifying.endpoint, {"Action": "ListQueues", "Version": SQS_VERSION}, secret="nope")
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 403
    assert xml(resp).find("Error/Code").text == "SignatureDoesNotMatch"


def test_verify_presigned_tampered_parameters(verifying):
    url = presigned_url(verifying.endpoint, {"Action": "ListQueues", "Version": SQS_VERSION})
    resp = requests.get(url + "&QueueNamePrefix=sneaky", timeout=30)
    assert resp.status_code == 403
    assert xml(resp).find("Error/Code").text == "SignatureDoesNotMatch"


def test_verify_tampered_body_after_signing(verifying):
    req = AWSRequest(method="POST", url=verifying.endpoint + "/", data='{"QueueNamePrefix": "a"}',
                     headers={"X-Amz-Target": "AmazonSQS.ListQueues",
                              "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(Credentials(VERIFY_KEY, VERIFY_SECRET), "sqs", "us-east-1").add_auth(req)
    resp = requests.post(req.url, data='{"QueueNamePrefix": "b"}', headers=dict(req.headers.items()), timeout=30)
    assert resp.status_code == 403
    assert "SignatureDoesNotMatch" in json_error_code(resp) + resp.headers.get("x-amzn-query-error", "")


# ---------------------------------------------------------------- STS


@pytest.mark.parametrize("key,account", [("test", ACCOUNT), ("210987654321", "210987654321")])
def test_sts_get_caller_identity(stratus, key, account):
    ident = stratus.client("sts", access_key=key).get_caller_identity()
    assert ident["Account"] == account
    assert ident["Arn"].startswith("arn:aws:") and f":{account}:" in ident["Arn"]
    assert ident["UserId"]


def test_sts_get_caller_identity_raw_query(stratus):
    resp = query(stratus.endpoint, {"Action": "GetCallerIdentity", "Version": STS_VERSION})
    assert resp.status_code == 200, resp.text
    assert b"https://sts.amazonaws.com/doc/2011-06-15/" in resp.content
    root = xml(resp)
    assert root.tag == "GetCallerIdentityResponse"
    assert root.find("GetCallerIdentityResult/Account").text == ACCOUNT
    assert root.find("GetCallerIdentityResult/Arn").text.startswith("arn:aws:")
    assert root.find("ResponseMetadata/RequestId").text


def test_sts_signed_query_with_twelve_digit_key(stratus):
    resp = signed(stratus.endpoint, "sts", f"Action=GetCallerIdentity&Version={STS_VERSION}",
                  {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, access_key="135792468013")
    assert resp.status_code == 200, resp.text
    assert xml(resp).find("GetCallerIdentityResult/Account").text == "135792468013"


# ---------------------------------------------------------------- health and metrics


def cli_version():
    out = subprocess.run([STRATUS_BIN, "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    return re.search(r"\d+\.\d+\.\d+\S*", out.stdout).group(0)


def test_health_endpoint(stratus):
    first = requests.get(stratus.endpoint + "/_stratus/health", timeout=10)
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("application/json")
    h = first.json()
    assert h["status"] == "ok"
    assert h["version"] == cli_version()
    assert isinstance(h["uptime_seconds"], (int, float)) and h["uptime_seconds"] >= 0
    assert h["store"].startswith("sqlite")
    assert h["auth"] == "accept"
    assert {"sqs", "sts"} <= set(h["services"])
    assert all(isinstance(v, str) and v for v in h["services"].values())
    time.sleep(0.2)
    later = requests.get(stratus.endpoint + "/_stratus/health", timeout=10).json()
    assert later["uptime_seconds"] > h["uptime_seconds"]


def test_health_reports_verify_mode_and_memory_store(verifying):
    h = requests.get(verifying.endpoint + "/_stratus/health", timeout=10).json()
    assert h["auth"] == "verify"
    assert h["store"] == "memory"


def test_unknown_internal_endpoint_is_404(stratus):
    assert requests.get(stratus.endpoint + "/_stratus/nope", timeout=10).status_code == 404


def metric_samples(endpoint):
    resp = requests.get(endpoint + "/_stratus/metrics", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for line in resp.text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples


def requests_total(samples, operation, ok):
    total = 0.0
    for name, value in samples.items():
        if (name.startswith("stratus_requests_total{") and 'service="sqs"' in name
                and f'operation="{operation}"' in name and ('code="200"' in name) == ok):
            total += value
    return total


def test_metrics_count_requests(stratus, sqs):
    before = metric_samples(stratus.endpoint)
    for _ in range(3):
        sqs.list_queues()
    with pytest.raises(ClientError):
        sqs.get_queue_url(QueueName="metrics-missing-queue")
    after = metric_samples(stratus.endpoint)

    assert requests_total(after, "ListQueues", ok=True) - requests_total(before, "ListQueues", ok=True) >= 3
    assert requests_total(after, "GetQueueUrl", ok=False) - requests_total(before, "GetQueueUrl", ok=False) >= 1
    count = after['stratus_request_duration_seconds_count{service="sqs",operation="ListQueues"}']
    assert count - before.get('stratus_request_duration_seconds_count{service="sqs",operation="ListQueues"}', 0) >= 3
    assert after['stratus_request_duration_seconds_bucket{service="sqs",operation="ListQueues",le="+Inf"}'] == count
    assert after['stratus_request_duration_seconds_sum{service="sqs",operation="ListQueues"}'] > 0


# ---------------------------------------------------------------- CLI and process


def test_cli_help():
    out = subprocess.run([STRATUS_BIN, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "Usage" in out.stdout and "start" in out.stdout


def test_cli_start_help():
    out = subprocess.run([STRATUS_BIN, "start", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    for flag in ("--port", "--host", "--data-dir", "--store", "--auth", "--credentials"):
        assert flag in out.stdout, flag


@pytest.mark.parametrize("args", [["no-such-command"], ["start", "--store", "bogus"], ["start", "--port", "x"]])
def test_cli_rejects_bad_arguments(args):
    out = subprocess.run([STRATUS_BIN, *args], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert out.stderr.strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_server_exits_cleanly_on_signal(fresh_stratus, sig):
    server = fresh_stratus(store="sqlite")
    server.client("sqs").list_queues()
    assert server.stop(sig) == 0
    assert "panic" not in server.log().lower()


def test_sigterm_lets_in_flight_long_poll_finish(fresh_stratus):
    server = fresh_stratus(store="memory")
    c = server.client("sqs")
    url = c.create_queue(QueueName="drain")["QueueUrl"]
    result = {}

    def poll():
        try:
            result["resp"] = c.receive_message(QueueUrl=url, WaitTimeSeconds=2)
        except Exception as e:  # noqa: BLE001 - reported below
            result["error"] = e

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    assert server.stop(signal.SIGTERM) == 0
    th.join(10)
    assert "error" not in result, result.get("error")
    assert result["resp"]["ResponseMetadata"]["HTTPStatusCode"] == 200
