"""Helpers shared by the SNS end-to-end tests (no tests here): queues to
subscribe, an HTTP endpoint run by the test, and SNS signature checks with the
`cryptography` package, as a subscriber would write them."""
import base64
import http.server
import json
import threading
import time

import pytest
import requests
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

REGION = "us-east-1"
ACCOUNT = "000000000000"


def expect_error(call, code, message=None, **kwargs):
    """Run `call(**kwargs)`; assert it fails with `code` (and `message`)."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value.response["Error"]
    assert err["Code"] == code, err
    if message is not None:
        assert err["Message"] == message, err
    return info.value


def make_queue(sqs, name, fifo=False, **attrs):
    if fifo:
        attrs["FifoQueue"] = "true"
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive_all(sqs, url, expected, timeout=10.0):
    """Receive (and delete) until `expected` messages arrived or `timeout`."""
    got = []
    deadline = time.time() + timeout
    while len(got) < expected and time.time() < deadline:
        resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   MessageAttributeNames=["All"], AttributeNames=["All"])
        for m in resp.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def canonical(msg):
    """The string SNS signs, per AWS's documentation, from a parsed message."""
    if msg["Type"] == "Notification":
        fields = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        fields = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    out = ""
    for f in fields:
        if f in msg and msg[f] is not None:
            out += f"{f}\n{msg[f]}\n"
    return out.encode()


def verify_signature(msg, cert_key="SigningCertURL"):
    """Fetch the certificate from the message's URL and check its signature."""
    pem = requests.get(msg[cert_key], timeout=10)
    assert pem.status_code == 200, pem.text
    cert = x509.load_pem_x509_certificate(pem.content)
    digest = hashes.SHA256() if msg["SignatureVersion"] == "2" else hashes.SHA1()
    # Raises InvalidSignature when the message was altered.
    cert.public_key().verify(base64.b64decode(msg["Signature"]), canonical(msg), padding.PKCS1v15(), digest)
    return cert


class Endpoint:
    """An HTTP subscriber on 127.0.0.1: records every request, answers
    SubscriptionConfirmation with 200 and notifications with `status`."""

    def __init__(self, status=200):
        self.status = status
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with outer.lock:
                    outer.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                           "body": body, "at": time.time()})
                kind = self.headers.get("x-amz-sns-message-type")
                code = 200 if kind != "Notification" else outer.status
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of_type(self, kind):
        with self.lock:
            return [r for r in self.requests if r["headers"].get("x-amz-sns-message-type") == kind]

    def wait_for(self, kind, count=1, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.of_type(kind)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return self.of_type(kind)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def confirm_via_url(endpoint):
    """Visit the SubscribeURL of the endpoint's confirmation, as a browser
    would (no credentials); returns the parsed confirmation message."""
    conf = endpoint.wait_for("SubscriptionConfirmation")
    assert conf, "no SubscriptionConfirmation arrived"
    msg = json.loads(conf[-1]["body"])
    resp = requests.get(msg["SubscribeURL"], timeout=10)
    assert resp.status_code == 200, resp.text
    assert "<ConfirmSubscriptionResult>" in resp.text
    return msg


def emails(stratus, **filters):
    resp = requests.get(f"{stratus.endpoint}/_stratus/sns/emails", params=filters, timeout=10)
    assert resp.status_code == 200
    return resp.json()["Emails"]
