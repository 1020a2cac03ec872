#!/usr/bin/env bash
# Lambda benchmarks: Stratus and the peers that can execute Lambda functions on
# this machine, with the same client (stratus-bench lambda-warm, lambda-cold,
# lambda-sqs). Writes $OUT/<emulator>/*.json and $OUT/summary.md.
#
#   bench/install-peers.sh ministack    # once
#   bench/compare-lambda.sh
#   ONLY=stratus bench/compare-lambda.sh
#
# Environment:
#   STRATUS_BIN     Stratus binary (default target/release/stratus); skipped if absent
#   BENCH_BIN       a stratus-bench binary to use instead of building one
#   OUT             results directory (default bench-results-lambda)
#   ONLY            comma-separated subset of: stratus, ministack, fakecloud
#   BENCH_VENV, PEERS_DIR   where install-peers.sh put the peers
#   CLIENT_THREADS  tokio threads of the load generator (default 1)
#   RUNTIME         runtime of the no-op function (default python3.11)
#   WARM_ITERS, WARM_CONNECTIONS, WARM_DURATION   lambda-warm sizes
#   COLD_SAMPLES    lambda-cold samples (UpdateFunctionConfiguration per sample)
#   SQS_MESSAGES, SQS_BATCH, SQS_TIMEOUT          lambda-sqs sizes
#   QUIET_WAIT=600 QUIET_LOAD=1.0   wait (at most QUIET_WAIT s) for the load
#                   average to fall below QUIET_LOAD before each emulator
#
# Peers: ministack executes Python functions as local processes (its default
# LAMBDA_EXECUTOR=local); fakecloud runs functions in Docker containers only, so
# it is measured only when `docker info` reaches a daemon. LocalStack (Docker)
# is not runnable here; its documented figures are quoted in bench/RESULTS.md.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

STRATUS_BIN=${STRATUS_BIN:-target/release/stratus}
OUT=${OUT:-bench-results-lambda}
ONLY=${ONLY:-}
BENCH_VENV=${BENCH_VENV:-/tmp/bench-venv}
PEERS_DIR=${PEERS_DIR:-/tmp/bench-peers}
CLIENT_THREADS=${CLIENT_THREADS:-1}
RUNTIME=${RUNTIME:-python3.11}
WARM_ITERS=${WARM_ITERS:-2000}
WARM_CONNECTIONS=${WARM_CONNECTIONS:-4}
WARM_DURATION=${WARM_DURATION:-10}
COLD_SAMPLES=${COLD_SAMPLES:-30}
SQS_MESSAGES=${SQS_MESSAGES:-10000}
SQS_BATCH=${SQS_BATCH:-10}
SQS_TIMEOUT=${SQS_TIMEOUT:-300}
QUIET_LOAD=${QUIET_LOAD:-1.0}
QUIET_WAIT=${QUIET_WAIT:-0}

log() { printf '\n==> %s\n' "$*"; }

if [ -n "${BENCH_BIN:-}" ]; then
    BENCH=$BENCH_BIN
else
    log "building stratus-bench (release)"
    cargo build --release -p stratus-bench || exit 1
    BENCH="${CARGO_TARGET_DIR:-$ROOT/target}/release/stratus-bench"
fi
B() { "$BENCH" --threads "$CLIENT_THREADS" "$@"; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/stratus-bench-lambda.XXXXXX)
SERVER_PID=""

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    # The server runs in its own session (setsid): signal the whole group, which
    # includes the function processes it started.
    kill -TERM -- "-$SERVER_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}
trap 'stop_server; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

selected() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

emulator_cmd() { # NAME PORT
    local name=$1 port=$2
    case "$name" in
        stratus)
            [ -x "$STRATUS_BIN" ] || { echo "not built: $STRATUS_BIN" >&2; return 1; }
            echo "$STRATUS_BIN start --port $port --store memory" ;;
        ministack)
            [ -x "$BENCH_VENV/bin/ministack" ] || { echo "not installed: $BENCH_VENV/bin/ministack (bench/install-peers.sh ministack)" >&2; return 1; }
            echo "GATEWAY_PORT=$port BIND_HOST=127.0.0.1 LOG_LEVEL=WARNING $BENCH_VENV/bin/ministack" ;;
        fakecloud)
            local bin="$PEERS_DIR/fakecloud/bin/fakecloud"
            [ -x "$bin" ] || { echo "not installed: $bin (bench/install-peers.sh fakecloud)" >&2; return 1; }
            docker info >/dev/null 2>&1 || { echo "fakecloud executes Lambda functions in Docker containers only, and no Docker daemon is reachable" >&2; return 1; }
            echo "$bin --addr 127.0.0.1:$port --log-level warn" ;;
    esac
}

emulator_version() {
    case "$1" in
        stratus) "$STRATUS_BIN" --version 2>/dev/null | head -1 ;;
        ministack) echo "ministack $("$BENCH_VENV/bin/pip" show ministack 2>/dev/null | sed -n 's/^Version: //p')" ;;
        fakecloud) "$PEERS_DIR/fakecloud/bin/fakecloud" --version 2>/dev/null | head -1 ;;
    esac
}

emulator_note() {
    case "$1" in
        stratus) echo "--store memory; functions run as local processes (Lambda Runtime API)" ;;
        ministack) echo "LAMBDA_EXECUTOR=local (default): a warm Python worker process per function" ;;
        fakecloud) echo "functions in Docker containers" ;;
    esac
}

wait_quiet() {
    local waited=0
    while [ "$waited" -lt "$QUIET_WAIT" ] && awk -v max="$QUIET_LOAD" '{exit !($1 >= max)}' /proc/loadavg; do
        [ "$waited" = 0 ] && echo "waiting for load average < $QUIET_LOAD (now $(cut -d' ' -f1 /proc/loadavg))"
        sleep 5; waited=$((waited + 5))
    done
}

for name in stratus ministack fakecloud; do
    selected "$name" || continue
    port=$("$BENCH" free-port)
    if ! cmd=$(emulator_cmd "$name" "$port" 2>"$WORK/why"); then
        log "SKIP $name: $(cat "$WORK/why")"
        continue
    fi
    dir="$OUT/$name"
    rm -rf "$dir" && mkdir -p "$dir"
    wait_quiet
    jq -n --arg name "$name" --arg version "$(emulator_version "$name")" --arg note "$(emulator_note "$name")" \
        --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
        '{name: $name, version: $version, note: $note, load: $load}' >"$dir/meta.json"
    endpoint="http://127.0.0.1:$port"
    log "$name: $cmd"
    # Each emulator runs from a scratch directory (ministack writes state next to it).
    setsid sh -c "cd '$WORK' && exec env $cmd" >>"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    if ! B ready --endpoint "$endpoint" --timeout 60; then
        echo "$name did not become ready; see $dir/server.log"
        stop_server
        continue
    fi
    B lambda-warm --endpoint "$endpoint" --runtime "$RUNTIME" --iterations "$WARM_ITERS" \
        --connections "$WARM_CONNECTIONS" --duration "$WARM_DURATION" \
        --json "$dir/lambda-warm.json" || echo "lambda-warm FAILED for $name"
    B lambda-cold --endpoint "$endpoint" --runtime "$RUNTIME" --samples "$COLD_SAMPLES" \
        --json "$dir/lambda-cold.json" || echo "lambda-cold FAILED for $name"
    # The count file works when the function runs on this host (not in Docker).
    count_args=()
    [ "$name" != fakecloud ] && count_args=(--count-file "$WORK/$name-count.txt")
    B lambda-sqs --endpoint "$endpoint" --runtime "$RUNTIME" --messages "$SQS_MESSAGES" \
        --batch-size "$SQS_BATCH" --timeout "$SQS_TIMEOUT" "${count_args[@]}" \
        --json "$dir/lambda-sqs.json" || echo "lambda-sqs FAILED for $name"
    stop_server
done

# Summary table (jq; one row per emulator that produced results).
log "summary"
{
    echo "# Lambda benchmark results"
    echo
    echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); client: stratus-bench ($CLIENT_THREADS tokio thread) on the same machine. $(date -u +%Y-%m-%d)."
    echo "No-op Python function ($RUNTIME). Warm: $WARM_ITERS sequential invokes (c=1), then $WARM_CONNECTIONS connections for ${WARM_DURATION}s."
    echo "Cold: $COLD_SAMPLES samples, each after UpdateFunctionConfiguration (new environment variable) reached LastUpdateStatus Successful; 'to handler' = Invoke sent -> handler running (the handler's clock)."
    echo "SQS: $SQS_MESSAGES queued messages, BatchSize $SQS_BATCH; time from CreateEventSourceMapping until visible + in-flight = 0."
    echo
    echo "| Emulator | Warm p50 / p99 c=1 (ms) | Warm invocations/s (c=$WARM_CONNECTIONS) | Cold to handler p50 / p90 (ms) | Cold invoke p50 (ms) | SQS $SQS_MESSAGES msgs (s) | Errors | Load (1/5/15 min) |"
    echo "|---|--:|--:|--:|--:|--:|--:|---|"
    for name in stratus ministack fakecloud; do
        dir="$OUT/$name"
        [ -f "$dir/meta.json" ] || continue
        jq -r -n --slurpfile meta "$dir/meta.json" \
            --argjson warm "$(cat "$dir/lambda-warm.json" 2>/dev/null || echo null)" \
            --argjson cold "$(cat "$dir/lambda-cold.json" 2>/dev/null || echo null)" \
            --argjson sqs "$(cat "$dir/lambda-sqs.json" 2>/dev/null || echo null)" '
            def ms(x): if x == null then "–" else (x / 1000 * 100 | round / 100 | tostring) end;
            def n(x): if x == null then "–" else (x | tostring) end;
            $meta[0] as $m
            | "| \($m.version) | \(ms($warm.latency.p50_us)) / \(ms($warm.latency.p99_us)) | \(n($warm.invocations_per_s))"
              + " | \(ms($cold.cold_start.p50_us)) / \(ms($cold.cold_start.p90_us)) | \(ms($cold.invoke_latency.p50_us))"
              + " | \(if $sqs == null then "–" elif $sqs.complete then ($sqs.consume_s * 100 | round / 100 | tostring) else "incomplete (\($sqs.left) left)" end)"
              + " | \([$warm, $cold, $sqs] | map(select(. != null) | .errors.total) | add // "–")"
              + " | \($m.load) |"'
    done
    echo
    echo "## Notes"
    echo
    for name in stratus ministack fakecloud; do
        [ -f "$OUT/$name/meta.json" ] && jq -r '"- **\(.name)**: \(.note)"' "$OUT/$name/meta.json"
    done
} >"$OUT/summary.md"
cat "$OUT/summary.md"
