"""The Lambda benchmarks of stratus-bench (lambda-warm, lambda-cold, lambda-sqs),
run with small sizes against a real server: each must finish without errors and
report what it claims (cold samples really cold, every queued message seen by
the function). Also covers the interpreter resolution that keeps version-manager
shims out of cold starts."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

BENCH_BIN = os.environ.get("STRATUS_BENCH_BIN", str(ROOT / "target" / "release" / "stratus-bench"))


def bench(*args, timeout=180):
    if not os.access(BENCH_BIN, os.X_OK):
        pytest.fail(f"{BENCH_BIN} is not built: cargo build --release -p stratus-bench")
    out = subprocess.run([BENCH_BIN, *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout


def report(tmp_path, name, *args):
    path = tmp_path / f"{name}.json"
    bench(name, *args, "--json", str(path))
    return json.loads(path.read_text())


def test_lambda_warm_reports_latency_and_rate(stratus, tmp_path):
    r = report(tmp_path, "lambda-warm", "--endpoint", stratus.endpoint,
               "--iterations", "50", "--warmup", "5", "--connections", "2",
               "--duration", "1", "--warmup-s", "0.5")
    assert r["errors"]["total"] == 0, r["errors"]
    assert r["iterations"] == 50
    # One environment served every sequential call, and all were warm.
    assert r["sequential_environments"] == 1
    assert r["sequential_cold"] == 0
    assert 0 < r["latency"]["p50_us"] <= r["latency"]["p99_us"]
    assert r["overhead"]["p50_us"] <= r["latency"]["p50_us"]
    assert r["invocations_ok"] > 0 and r["invocations_per_s"] > 0
    assert 1 <= r["concurrent_environments"] <= 2


def test_lambda_cold_forces_a_new_environment_per_sample(stratus, tmp_path):
    r = report(tmp_path, "lambda-cold", "--endpoint", stratus.endpoint, "--samples", "3",
               "--pause-ms", "0")
    assert r["errors"]["total"] == 0, r["errors"]
    assert r["not_cold"] == 0
    assert r["samples"] == 3
    cold = r["cold_start"]
    assert 0 < cold["p50_us"] <= r["invoke_latency"]["max_us"]


def test_lambda_cold_fresh_functions(stratus, tmp_path):
    r = report(tmp_path, "lambda-cold", "--endpoint", stratus.endpoint, "--samples", "2",
               "--fresh", "--pause-ms", "0")
    assert r["errors"]["total"] == 0, r["errors"]
    assert r["mode"] == "fresh" and r["samples"] == 2


def test_lambda_sqs_consumes_every_message(stratus, tmp_path):
    count = tmp_path / "count.txt"
    r = report(tmp_path, "lambda-sqs", "--endpoint", stratus.endpoint, "--messages", "200",
               "--timeout", "60", "--count-file", str(count))
    assert r["errors"]["total"] == 0, r["errors"]
    assert r["complete"] and r["left"] == 0
    assert r["function_messages"] == 200
    # BatchSize 10: at least 20 invocations, none larger than 10.
    assert r["function_batches"] >= 20
    assert all(0 < int(n) <= 10 for n in count.read_text().split())
    assert r["mapping_state"] == "Enabled"


def test_bench_refuses_non_loopback_endpoints():
    out = subprocess.run([BENCH_BIN, "lambda-warm", "--endpoint", "http://192.0.2.1:4566"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "refusing non-loopback" in out.stderr


def _shim_dir(tmp_path, real_python):
    """A PATH directory whose python3.11 is a shell script that execs the real
    interpreter and leaves a trace in a file each time it runs."""
    d = tmp_path / "shims"
    d.mkdir()
    trace = tmp_path / "shim-runs"
    shim = d / "python3.11"
    shim.write_text(f"#!/bin/sh\necho run >> {trace}\nexec {real_python} \"$@\"\n")
    shim.chmod(0o755)
    return d, trace


def test_python_shims_are_resolved_once(fresh_stratus, tmp_path, monkeypatch):
    real = subprocess.run(["python3.11", "-c", "import sys;print(sys.executable)"],
                          capture_output=True, text=True)
    if real.returncode != 0:
        pytest.fail("python3.11 is needed for the Lambda tests")
    shims, trace = _shim_dir(tmp_path, real.stdout.strip())
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")
    server = fresh_stratus(store="memory")
    r = report(tmp_path, "lambda-cold", "--endpoint", server.endpoint, "--samples", "3",
               "--pause-ms", "0")
    assert r["errors"]["total"] == 0, r["errors"]
    # The shim ran only to tell Stratus which interpreter it stands for; the
    # four environments (one warm-up plus three samples) started the real one.
    assert Path(trace).read_text().split() == ["run"]
