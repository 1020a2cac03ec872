"""Lambda Extensions API, Logs API and Telemetry API, end to end.

A layer carries `extensions/recorder.py` (lambda_fixtures/extension), an
external extension written like AWS's Python samples; it POSTs what it sees to
a collector the test runs (URL in the function's EXT_COLLECT variable).
"""
import base64
import http.server
import io
import json
import threading
import time
import zipfile
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import wait_until
from lambda_fixtures.helpers import create_function, invoke_json, zip_files

RECORDER = (Path(__file__).parent / "lambda_fixtures" / "extension" / "recorder.py").read_text()

HANDLER = """
import os
def handler(event, context):
    for i in range(int(event.get("lines", 1))):
        print(f"function line {i} of {context.aws_request_id}")
    return {"ok": True, "rid": context.aws_request_id}
"""


@pytest.fixture
def lam(stratus):
    return stratus.client("lambda")


def layer_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("extensions/recorder.py")
        info.external_attr = (0o100000 | 0o755) << 16
        z.writestr(info, RECORDER)
    return buf.getvalue()


class Collector(http.server.ThreadingHTTPServer):
    """Receives the extension's reports (one JSON object per POST)."""
    daemon_threads = True

    def __init__(self):
        self.entries = []
        self.lock = threading.Lock()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with collector.lock:
                    collector.entries.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"


@pytest.fixture
def collector():
    collector = Collector()
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    yield collector
    collector.shutdown()
    collector.server_close()


@pytest.fixture
def ext_layer(lam, unique_name):
    v = lam.publish_layer_version(LayerName=unique_name("ext"), Content={"ZipFile": layer_zip()},
                                  CompatibleRuntimes=["python3.11"])
    return v["LayerVersionArn"]


def make_function(lam, unique_name, ext_layer, collector, code=HANDLER, timeout=10, **env):
    name = unique_name("fn")
    out = collector
    variables = {"EXT_COLLECT": out.url, **{k: str(v) for k, v in env.items()}}
    create_function(lam, name, zip_files({"app.py": code}), Layers=[ext_layer], Timeout=timeout,
                    Environment={"Variables": variables})
    return name, out


def read(out):
    with out.lock:
        return list(out.entries)


def delivered(out):
    return [r for e in read(out) if e["kind"] == "batch" for r in e["records"]]


def by_type(records, kind):
    return [r for r in records if r["type"] == kind]


def tail(resp):
    return base64.b64decode(resp["LogResult"]).decode()


def test_telemetry_records_events_and_shutdown(stratus, lam, unique_name, ext_layer, collector):
    name, out = make_function(lam, unique_name, ext_layer, collector, EXT_PROBES=1)
    r1 = invoke_json(lam, name, {"lines": 2}, LogType="Tail")
    assert r1["Body"]["ok"] is True and "FunctionError" not in r1
    rid1 = r1["ResponseMetadata"]["RequestId"]
    r2 = invoke_json(lam, name, {"lines": 1})
    rid2 = r2["ResponseMetadata"]["RequestId"]

    # Registration answer (with the accountId feature) and the lifecycle events.
    entries = read(out)
    reg = next(e for e in entries if e["kind"] == "register")
    assert reg["status"] == 200 and reg["id"]
    assert reg["body"] == {"functionName": name, "functionVersion": "$LATEST", "handler": "app.handler",
                           "accountId": "000000000000"}
    invokes = [e["event"] for e in entries if e["kind"] == "event" and e["event"]["eventType"] == "INVOKE"]
    assert [i["requestId"] for i in invokes] == [rid1, rid2]
    fn_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    for i in invokes:
        assert i["invokedFunctionArn"] == fn_arn
        assert i["deadlineMs"] > time.time() * 1000 - 60_000
        assert i["tracing"]["type"] == "X-Amzn-Trace-Id" and i["tracing"]["value"].startswith("Root=1-")
    assert all(e["event_id"] for e in entries if e["kind"] == "event")

    # The Extensions API's refusals.
    probes = {e["what"]: e for e in entries if e["kind"] == "probe"}
    assert probes["next-without-id"]["status"] == 403
    assert probes["next-without-id"]["body"]["errorType"] == "Extension.MissingExtensionIdentifier"
    assert probes["register-twice"]["status"] == 403
    assert probes["register-twice"]["body"]["errorType"] == "Extension.InvalidExtensionState"
    assert probes["register-after-init"]["body"]["errorType"] == "Extension.RegistrationClosed"
    assert probes["bad-buffering"]["status"] == 400
    assert probes["bad-buffering"]["body"]["errorType"] == "ValidationError"
    assert "maxItems" in probes["bad-buffering"]["body"]["errorMessage"]
    assert probes["subscribe-without-id"]["status"] == 403
    sub = next(e for e in entries if e["kind"] == "subscribe")
    assert sub["status"] == 200

    def has_all():
        recs = delivered(out)
        reports = [r for r in by_type(recs, "platform.report") if r["record"]["requestId"] == rid2]
        return recs if reports else None
    recs = wait_until(has_all, timeout=10)
    assert recs, read(out)
    for r in recs:
        assert r["time"].endswith("Z") and "T" in r["time"]
    init_start = by_type(recs, "platform.initStart")[0]["record"]
    assert init_start["initializationType"] == "on-demand" and init_start["phase"] == "init"
    assert init_start["runtimeVersion"] and init_start["runtimeVersionArn"].startswith("arn:aws:lambda:")
    assert init_start["functionName"] == name and init_start["functionVersion"] == "$LATEST"
    init_done = by_type(recs, "platform.initRuntimeDone")[0]["record"]
    assert init_done["status"] == "success" and init_done["phase"] == "init"
    init_report = by_type(recs, "platform.initReport")[0]["record"]
    assert init_report["status"] == "success" and init_report["metrics"]["durationMs"] > 0
    subscription = by_type(recs, "platform.telemetrySubscription")[0]["record"]
    assert subscription == {"name": "recorder.py", "state": "Subscribed",
                            "types": ["platform", "function", "extension"]}
    ext = by_type(recs, "platform.extension")[0]["record"]
    assert ext == {"name": "recorder.py", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]}
    starts = {r["record"]["requestId"]: r["record"] for r in by_type(recs, "platform.start")}
    assert starts[rid1]["version"] == "$LATEST" and starts[rid1]["tracing"]["type"] == "X-Amzn-Trace-Id"
    done = {r["record"]["requestId"]: r["record"] for r in by_type(recs, "platform.runtimeDone")}
    assert done[rid1]["status"] == "success"
    assert done[rid1]["metrics"]["durationMs"] >= 0 and done[rid1]["metrics"]["producedBytes"] > 0
    reports = {r["record"]["requestId"]: r["record"] for r in by_type(recs, "platform.report")}
    m1 = reports[rid1]["metrics"]
    assert reports[rid1]["status"] == "success"
    assert m1["durationMs"] > 0 and m1["billedDurationMs"] >= 1 and m1["memorySizeMB"] == 128
    assert m1["maxMemoryUsedMB"] > 0 and m1["initDurationMs"] > 0
    assert "initDurationMs" not in reports[rid2]["metrics"], "only the cold invoke reports init"
    functions = [r["record"] for r in by_type(recs, "function")]
    assert f"function line 0 of {rid1}" in functions and f"function line 1 of {rid1}" in functions
    extension_lines = [r["record"] for r in by_type(recs, "extension")]
    assert any(line.startswith("[recorder.py] registered as") for line in extension_lines)
    # Order within an invoke: start, the function's lines, runtimeDone, report.
    kinds = [(r["type"], r["record"] if r["type"] == "function" else r["record"].get("requestId"))
             for r in recs if r["type"] != "extension"]
    i_start = kinds.index(("platform.start", rid1))
    i_line = kinds.index(("function", f"function line 0 of {rid1}"))
    i_done = kinds.index(("platform.runtimeDone", rid1))
    i_report = kinds.index(("platform.report", rid1))
    assert i_start < i_line < i_done < i_report, kinds

    # Function logs (and the extension's output) still reach CloudWatch Logs.
    assert f"function line 0 of {rid1}" in tail(r1)
    logs = stratus.client("logs")

    def cw():
        try:
            streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
        except ClientError:
            return None
        msgs = [e["message"] for s in streams for e in
                logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=s["logStreamName"])["events"]]
        return msgs if any("[recorder.py] INVOKE" in m for m in msgs) else None
    msgs = wait_until(cw, timeout=10)
    assert msgs and any(m.startswith(f"REPORT RequestId: {rid1}") for m in msgs)

    # Deleting the function ends the environment: SHUTDOWN (spindown) with a deadline.
    lam.delete_function(FunctionName=name)

    def shutdown():
        evs = [e["event"] for e in read(out) if e["kind"] == "event" and e["event"]["eventType"] == "SHUTDOWN"]
        return evs[0] if evs else None
    ev = wait_until(shutdown, timeout=10)
    assert ev and ev["shutdownReason"] == "spindown"
    assert 0 < ev["deadlineMs"] - time.time() * 1000 <= 2500
    assert wait_until(lambda: any(e["kind"] == "exit" for e in read(out)), timeout=5)


def test_invoke_waits_for_extensions(lam, unique_name, ext_layer, collector):
    name, out = make_function(lam, unique_name, ext_layer, collector, EXT_INVOKE_DELAY_MS=1200)
    invoke_json(lam, name)  # cold start
    started = time.monotonic()
    r = invoke_json(lam, name, LogType="Tail")
    elapsed = time.monotonic() - started
    assert r["Body"]["ok"] is True
    assert elapsed >= 1.2, f"the invoke ended before the extension asked for the next event ({elapsed:.2f}s)"
    report = [line for line in tail(r).splitlines() if line.startswith("REPORT")][0]
    duration = float(report.split("Duration: ")[1].split(" ms")[0])
    assert duration >= 1200, report
    recs = wait_until(lambda: [x for x in by_type(delivered(out), "platform.report")
                               if x["record"]["requestId"] == r["ResponseMetadata"]["RequestId"]], timeout=10)
    assert recs[0]["record"]["metrics"]["durationMs"] >= 1200


def test_extension_that_never_finishes_times_the_invoke_out(lam, unique_name, ext_layer, collector):
    name, out = make_function(lam, unique_name, ext_layer, collector, timeout=2, EXT_INVOKE_DELAY_MS=60_000)
    started = time.monotonic()
    r = invoke_json(lam, name, LogType="Tail")
    elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 8, elapsed
    assert r["Body"]["ok"] is True, "the runtime's answer stands"
    assert "Status: timeout" in tail(r)
    # The environment was reset: the next invoke is a cold start.
    r2 = invoke_json(lam, name, LogType="Tail")
    assert "Init Duration" in tail(r2)


def test_extension_init_error_fails_init(lam, unique_name, ext_layer, collector):
    name, out = make_function(lam, unique_name, ext_layer, collector, EXT_INIT_ERROR="Extension.ConfigInvalid")
    r = invoke_json(lam, name, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert r["Body"]["errorType"] == "Extension.ConfigInvalid"
    assert r["Body"]["errorMessage"] == "the extension is misconfigured"
    log = tail(r)
    assert "INIT_REPORT" in log and "Error Type: Extension.ConfigInvalid" in log
    entry = next(e for e in read(out) if e["kind"] == "init-error")
    assert entry["status"] == 202 and entry["body"] == {"status": "OK"}


@pytest.mark.parametrize("protocol", ["HTTP", "TCP"])
def test_logs_api_subscription(lam, unique_name, ext_layer, collector, protocol):
    name, out = make_function(lam, unique_name, ext_layer, collector, EXT_API="logs", EXT_PROTOCOL=protocol,
                              EXT_TYPES="platform,function")
    r = invoke_json(lam, name, {"lines": 3})
    rid = r["ResponseMetadata"]["RequestId"]
    sub = next(e for e in read(out) if e["kind"] == "subscribe")
    assert sub["status"] == 200 and sub["body"] == "OK"

    def ready():
        recs = delivered(out)
        return recs if any(x["type"] == "platform.report" and x["record"]["requestId"] == rid for x in recs) else None
    recs = wait_until(ready, timeout=10)
    assert recs, read(out)
    types = {x["type"] for x in recs}
    assert {"platform.logsSubscription", "platform.start", "platform.runtimeDone", "platform.end",
            "platform.report", "function"} <= types, types
    assert "extension" not in types and "platform.initStart" not in types, "Logs API schema"
    assert by_type(recs, "platform.logsSubscription")[0]["record"] == {
        "name": "recorder.py", "state": "Subscribed", "types": ["platform", "function"]}
    assert [x["record"] for x in by_type(recs, "function")][-3:] == [f"function line {i} of {rid}" for i in range(3)]
    report = [x for x in by_type(recs, "platform.report") if x["record"]["requestId"] == rid][0]["record"]
    assert set(report["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"}
    assert [x for x in by_type(recs, "platform.end") if x["record"] == {"requestId": rid}]


def test_slow_subscriber_gets_logs_dropped(lam, unique_name, ext_layer, collector):
    name, out = make_function(lam, unique_name, ext_layer, collector, EXT_TYPES="function", EXT_SLOW_MS=1500,
                              EXT_BUFFERING='{"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25}')
    invoke_json(lam, name, {"lines": 1})
    invoke_json(lam, name, {"lines": 6000})

    def dropped():
        d = by_type(delivered(out), "platform.logsDropped")
        return d or None
    d = wait_until(dropped, timeout=15)
    assert d, "no platform.logsDropped record"
    rec = d[0]["record"]
    assert rec["droppedRecords"] > 0 and rec["droppedBytes"] > 0 and rec["reason"]

    def accounted():
        recs = delivered(out)
        got = len(by_type(recs, "function"))
        lost = sum(x["record"]["droppedRecords"] for x in by_type(recs, "platform.logsDropped"))
        return (got, lost) if got + lost >= 6001 else None
    counts = wait_until(accounted, timeout=15)
    assert counts, "every line is either delivered or counted as dropped"


INTERNAL = """
import json, os, threading, urllib.request
API = os.environ["AWS_LAMBDA_RUNTIME_API"]
SEEN = []

def call(method, path, body=None, headers=None):
    req = urllib.request.Request(f"http://{API}{path}", method=method, headers=headers or {},
                                 data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read())

REFUSED = call("POST", "/2020-01-01/extension/register", {"events": ["SHUTDOWN"]}, {"Lambda-Extension-Name": "inner"})
STATUS, HEADERS, REG = call("POST", "/2020-01-01/extension/register", {"events": ["INVOKE"]}, {"Lambda-Extension-Name": "inner"})
ID = HEADERS["Lambda-Extension-Identifier"]

def loop():
    while True:
        _, _, ev = call("GET", "/2020-01-01/extension/event/next", None, {"Lambda-Extension-Identifier": ID})
        SEEN.append(ev["requestId"])

threading.Thread(target=loop, daemon=True).start()

def handler(event, context):
    return {"refused": REFUSED[0], "refused_type": REFUSED[2]["errorType"], "status": STATUS, "reg": REG,
            "seen": list(SEEN)}
"""


def test_internal_extension_registered_by_the_runtime(lam, unique_name):
    name = unique_name("int")
    create_function(lam, name, zip_files({"app.py": INTERNAL}))
    r1 = invoke_json(lam, name)
    r2 = invoke_json(lam, name)
    b = r2["Body"]
    assert b["refused"] == 403 and b["refused_type"] == "Extension.InvalidEventType"
    assert b["status"] == 200 and b["reg"]["functionName"] == name and "accountId" not in b["reg"]
    assert r1["ResponseMetadata"]["RequestId"] in b["seen"]
