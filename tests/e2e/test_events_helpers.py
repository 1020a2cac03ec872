"""Helpers shared by the EventBridge end-to-end tests (no tests here)."""
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import wait_until


def new_account():
    """A random 12-digit account: used as the access key, it selects that account."""
    return str(random.randint(100000000000, 999999999999))


def make_queue(sqs, name, fifo=False):
    attrs = {"FifoQueue": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url, count=1, timeout=10.0):
    """Receive (and delete) at least `count` messages, with attributes."""
    got = []
    deadline = time.time() + timeout
    while len(got) < count and time.time() < deadline:
        out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                  MessageAttributeNames=["All"], AttributeNames=["All"])
        for m in out.get("Messages", []):
            got.append(m)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def bodies(msgs):
    return [json.loads(m["Body"]) for m in msgs]


class Recorder:
    """A local HTTP server that records requests and answers with `status`."""

    def __init__(self, status=200, body=b"{}"):
        self.status = status
        self.body = body
        self.requests = []
        self.times = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                recorder.requests.append({"method": self.command, "path": self.path,
                                          "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": data.decode()})
                recorder.times.append(time.time())
                status, body = recorder.respond(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def respond(self, path):
        if path.startswith("/oauth"):
            return 200, json.dumps({"access_token": "tok-123", "expires_in": 3600}).encode()
        return self.status, self.body

    def wait(self, count, timeout=10.0):
        return wait_until(lambda: len(self.requests) >= count, timeout=timeout)

    def close(self):
        self.server.shutdown()
