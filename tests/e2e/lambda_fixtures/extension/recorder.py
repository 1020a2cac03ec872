#!/usr/bin/env python3
"""An external Lambda extension in the style of AWS's Python logs/telemetry API
samples: it registers, subscribes to the Telemetry API (or the Logs API) with a
local listener, and reports everything it sees (register answer, lifecycle
events, delivered batches, probe answers) as JSON POSTs to $EXT_COLLECT (the
test's collector; a file would not do where /tmp is private to the environment).

Behaviour is chosen through the function's environment (extensions share it):
EXT_API=telemetry|logs, EXT_PROTOCOL=HTTP|TCP, EXT_TYPES, EXT_BUFFERING (JSON),
EXT_SLOW_MS (first delivery is held that long), EXT_INVOKE_DELAY_MS (work after
each INVOKE), EXT_INIT_ERROR (report this init error type and exit),
EXT_PROBES=1 (try invalid calls and record the answers).
"""
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.error
import urllib.request

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
NAME = os.path.basename(__file__)
COLLECT = os.environ["EXT_COLLECT"]
LOCK = threading.Lock()


def record(kind, **fields):
    data = json.dumps({"kind": kind, **fields}).encode()
    req = urllib.request.Request(COLLECT, data=data, method="POST", headers={"Content-Type": "application/json"})
    with LOCK, urllib.request.urlopen(req) as r:
        r.read()


def call(method, path, body=None, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(f"http://{API}{path}", data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            return r.status, r.headers, raw
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def body_json(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class Batches(http.server.BaseHTTPRequestHandler):
    slow_once = [int(os.environ.get("EXT_SLOW_MS", "0"))]

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        records = json.loads(raw)
        record("batch", via="HTTP", path=self.path, records=records)
        if self.slow_once[0]:
            delay, self.slow_once[0] = self.slow_once[0], 0
            time.sleep(delay / 1000)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Lines(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            record("batch", via="TCP", records=[json.loads(line)])


def listen(protocol):
    if protocol == "TCP":
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Lines)
    else:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Batches)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def main():
    if os.environ.get("EXT_PROBES"):
        st, _, raw = call("GET", "/2020-01-01/extension/event/next")
        record("probe", what="next-without-id", status=st, body=body_json(raw))
    status, headers, raw = call("POST", "/2020-01-01/extension/register", {"events": ["INVOKE", "SHUTDOWN"]},
                                {"Lambda-Extension-Name": NAME, "Lambda-Extension-Accept-Feature": "accountId"})
    ext_id = headers.get("Lambda-Extension-Identifier")
    record("register", status=status, id=ext_id, body=body_json(raw))
    print(f"[{NAME}] registered as {ext_id}", flush=True)
    auth = {"Lambda-Extension-Identifier": ext_id}
    if os.environ.get("EXT_INIT_ERROR"):
        st, _, raw = call("POST", "/2020-01-01/extension/init/error",
                          {"errorMessage": "the extension is misconfigured", "errorType": os.environ["EXT_INIT_ERROR"]},
                          {**auth, "Lambda-Extension-Function-Error-Type": os.environ["EXT_INIT_ERROR"]})
        record("init-error", status=st, body=body_json(raw))
        sys.exit(1)
    api = os.environ.get("EXT_API", "telemetry")
    protocol = os.environ.get("EXT_PROTOCOL", "HTTP")
    port = listen(protocol)
    uri = f"tcp://sandbox.localdomain:{port}" if protocol == "TCP" else f"http://sandbox.localdomain:{port}/{api}"
    sub = {"destination": {"protocol": protocol, "URI": uri},
           "types": os.environ.get("EXT_TYPES", "platform,function,extension").split(","),
           "buffering": json.loads(os.environ.get("EXT_BUFFERING", '{"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}'))}
    path = "/2022-07-01/telemetry" if api == "telemetry" else "/2020-08-15/logs"
    if api == "telemetry":
        sub["schemaVersion"] = "2022-12-13"
    if os.environ.get("EXT_PROBES"):
        bad = dict(sub, buffering={"maxItems": 5})
        st, _, raw = call("PUT", path, bad, auth)
        record("probe", what="bad-buffering", status=st, body=body_json(raw))
        st, _, raw = call("PUT", path, sub, {})
        record("probe", what="subscribe-without-id", status=st, body=body_json(raw))
        st, _, raw = call("POST", "/2020-01-01/extension/register", {"events": ["INVOKE"]}, {"Lambda-Extension-Name": NAME})
        record("probe", what="register-twice", status=st, body=body_json(raw))
    st, _, raw = call("PUT", path, sub, auth)
    record("subscribe", api=api, status=st, body=raw.decode(errors="replace"))
    delay = int(os.environ.get("EXT_INVOKE_DELAY_MS", "0"))
    while True:
        st, headers, raw = call("GET", "/2020-01-01/extension/event/next", None, auth)
        event = json.loads(raw)
        record("event", status=st, event=event, event_id=headers.get("Lambda-Extension-Event-Identifier"))
        if event.get("eventType") == "SHUTDOWN":
            print(f"[{NAME}] shutting down: {event.get('shutdownReason')}", flush=True)
            time.sleep(0.2)  # let the last deliveries land
            record("exit")
            return
        print(f"[{NAME}] INVOKE {event.get('requestId')}", flush=True)
        if os.environ.get("EXT_PROBES"):
            st, _, raw = call("POST", "/2020-01-01/extension/register", {"events": ["INVOKE"]}, {"Lambda-Extension-Name": "late"})
            record("probe", what="register-after-init", status=st, body=body_json(raw))
        if delay:
            time.sleep(delay / 1000)


if __name__ == "__main__":
    main()
