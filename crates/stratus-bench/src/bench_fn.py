# The Lambda function the stratus-bench lambda-* subcommands deploy. It is
# zipped in memory by stratus-bench (crates/stratus-bench/src/lambda.rs).
#
# `noop` does nothing but report when it ran, for how long, and whether this was
# the first invocation of its process, so the client can tell a cold start from
# a warm one and separate the handler's own time from the platform's.
# `sqs` additionally appends the batch size to BENCH_COUNT_FILE when that is set,
# so a run can prove that every queued message reached the function.
import os
import time

_cold = True


def noop(event, context):
    global _cold
    started = time.time()
    t0 = time.perf_counter_ns()
    cold, _cold = _cold, False
    return {
        "started": started,
        "cold": cold,
        "pid": os.getpid(),
        "handler_ns": time.perf_counter_ns() - t0,
    }


def sqs(event, context):
    records = event["Records"]
    path = os.environ.get("BENCH_COUNT_FILE")
    if path:
        # One short O_APPEND write per batch: atomic even with several
        # environments appending at once.
        with open(path, "a") as f:
            f.write("%d\n" % len(records))
    return {"batch": len(records)}
