"""Harness for the end-to-end tests: the real `stratus` binary, real AWS clients.

Every test talks to a `stratus start` process over HTTP. The session server uses
the durable default store in a temporary directory; tests that restart or kill
the server get their own (`fresh_stratus`). Resource names are unique per test
(`unique_name`), so tests can run in parallel against one server.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import botocore.session
import pytest
import requests
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
STRATUS_BIN = os.environ.get("STRATUS_BIN", str(ROOT / "target" / "release" / "stratus"))
REGION = "us-east-1"
ACCOUNT = "000000000000"


class Stratus:
    """One `stratus start` process, restartable on the same port and data directory."""

    def __init__(self, data_dir, store="sqlite", extra_args=()):
        self.data_dir = str(data_dir)
        self.store = store
        self.extra_args = list(extra_args)
        self.port = 0
        self.proc = None
        self.endpoint = None
        self.log_path = os.path.join(self.data_dir, "stratus.log")

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        args = [STRATUS_BIN, "start", "--port", str(self.port), "--data-dir", self.data_dir,
                "--store", self.store, *self.extra_args]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.proc.stdout.readline()
        if "ready on" not in line:
            self.proc.kill()
            raise RuntimeError(f"stratus did not start: {line!r}\n{self.log()}")
        self.endpoint = line.split("ready on ", 1)[1].split()[0]
        self.port = int(self.endpoint.rsplit(":", 1)[1])
        return self

    def log(self):
        try:
            return Path(self.log_path).read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def client(self, service, protocol="json", access_key="test", secret_key="test", region=REGION, **cfg):
        return make_client(self.endpoint, service, protocol, access_key, secret_key, region, **cfg)

    def cli(self, *args, protocol="json", check=True, access_key="test", region=REGION):
        return run_cli(self.endpoint, args, protocol=protocol, check=check, access_key=access_key, region=region)


_QUERY_DATA = None


def query_data_path():
    """A botocore data path holding the query edition of the SQS model, so the
    same boto3/CLI speak the query protocol (as CLI v1 and older SDKs do)."""
    global _QUERY_DATA
    if _QUERY_DATA is None:
        d = tempfile.mkdtemp(prefix="stratus-query-model-")
        target = os.path.join(d, "sqs", "2012-11-05")
        os.makedirs(target)
        shutil.copy(ROOT / "models" / "sqs-query" / "service-2.json", os.path.join(target, "service-2.json"))
        _QUERY_DATA = d
    return _QUERY_DATA


def make_client(endpoint, service, protocol="json", access_key="test", secret_key="test", region=REGION, **cfg):
    session = botocore.session.Session()
    if protocol == "query":
        session.get_component("data_loader").search_paths.insert(0, query_data_path())
    b3 = boto3.Session(botocore_session=session, aws_access_key_id=access_key,
                       aws_secret_access_key=secret_key, region_name=region)
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, **cfg)
    return b3.client(service, endpoint_url=endpoint, config=config)


def run_cli(endpoint, args, protocol="json", check=True, access_key="test", region=REGION):
    env = dict(os.environ)
    env.update({
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
    })
    env.pop("AWS_PROFILE", None)
    if protocol == "query":
        env["AWS_DATA_PATH"] = query_data_path()
    else:
        env.pop("AWS_DATA_PATH", None)
    aws = shutil.which("aws") or str(Path(os.sys.executable).parent / "aws")
    # CLI v1 ignores AWS_ENDPOINT_URL for some services (sqs in us-east-1), so pass it explicitly.
    proc = subprocess.run([aws, "--endpoint-url", endpoint, *args, "--output", "json"], env=env, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    proc.json = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc


@pytest.fixture(scope="session")
def stratus(tmp_path_factory):
    server = Stratus(tmp_path_factory.mktemp("stratus-session")).start()
    yield server
    code = server.stop()
    assert code == 0, f"stratus exited with {code} on SIGTERM\n{server.log()}"


@pytest.fixture
def fresh_stratus(tmp_path):
    """A server of this test's own, for restarts and kills."""
    servers = []

    def make(store="sqlite", extra_args=()):
        s = Stratus(tmp_path / f"data-{len(servers)}", store=store, extra_args=extra_args).start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def unique_name(request):
    def make(prefix="t"):
        base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]
        return f"{prefix}-{base}-{uuid.uuid4().hex[:8]}"
    return make


@pytest.fixture
def sqs(stratus):
    return stratus.client("sqs")


@pytest.fixture
def sqs_query(stratus):
    return stratus.client("sqs", protocol="query")


@pytest.fixture(params=["json", "query"])
def sqs_any(request, stratus):
    """Runs the test once per SQS protocol."""
    return stratus.client("sqs", protocol=request.param)


def wait_until(predicate, timeout=10.0, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def raw_post(endpoint, target=None, body=None, headers=None, data=None):
    h = dict(headers or {})
    if target:
        h.setdefault("X-Amz-Target", target)
        h.setdefault("Content-Type", "application/x-amz-json-1.0")
        data = json.dumps(body or {})
    return requests.post(endpoint + "/", data=data, headers=h, timeout=30)
