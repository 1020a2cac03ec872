#!/usr/bin/env bash
# Installs the emulators Stratus is compared against (idempotent: an install that
# is already present at the pinned version is left alone).
#
#   bench/install-peers.sh            # all peers
#   bench/install-peers.sh moto fauxqs
#
# Locations (override with env vars; bench/compare.sh reads the same ones):
#   BENCH_VENV  Python venv for moto[server] and ministack   (/tmp/bench-venv)
#   PEERS_DIR   fakecloud install root and fauxqs npm dir     (/tmp/bench-peers)
#   FAKECLOUD_TARGET  cargo target dir for building fakecloud (/tmp/fakecloud-target)
# Versions are pinned to the ones measured in bench/README.md; override with
# MOTO_VERSION, MINISTACK_VERSION, FAKECLOUD_VERSION, FAUXQS_VERSION, NODE_VERSION.
set -euo pipefail

BENCH_VENV=${BENCH_VENV:-/tmp/bench-venv}
PEERS_DIR=${PEERS_DIR:-/tmp/bench-peers}
FAKECLOUD_TARGET=${FAKECLOUD_TARGET:-/tmp/fakecloud-target}
MOTO_VERSION=${MOTO_VERSION:-5.2.5}
MINISTACK_VERSION=${MINISTACK_VERSION:-1.5.33}
FAKECLOUD_VERSION=${FAKECLOUD_VERSION:-0.51.0}
FAUXQS_VERSION=${FAUXQS_VERSION:-2.4.1}
# fauxqs declares engines.node >= 22.5; the machine's Node may be older, so a
# Node 22 binary comes from the npm registry: node-linux-<arch> is the package
# that ships the official binary (the `node` package only wraps it with an
# install script that fetches the same thing).
NODE_VERSION=${NODE_VERSION:-22.23.3}
HERE=$(cd "$(dirname "$0")" && pwd)

log() { printf '==> %s\n' "$*"; }

venv_has() { # package version
    [ -x "$BENCH_VENV/bin/pip" ] && [ "$("$BENCH_VENV/bin/pip" show "$1" 2>/dev/null | sed -n 's/^Version: //p')" = "$2" ]
}

ensure_venv() {
    if [ ! -x "$BENCH_VENV/bin/python" ]; then
        log "creating venv $BENCH_VENV"
        python3 -m venv "$BENCH_VENV"
        "$BENCH_VENV/bin/pip" install -q --upgrade pip
    fi
}

install_moto() {
    if venv_has moto "$MOTO_VERSION"; then log "moto $MOTO_VERSION already installed"; return; fi
    ensure_venv
    log "installing moto[server]==$MOTO_VERSION"
    "$BENCH_VENV/bin/pip" install -q "moto[server]==$MOTO_VERSION"
}

install_ministack() {
    if venv_has ministack "$MINISTACK_VERSION"; then log "ministack $MINISTACK_VERSION already installed"; return; fi
    ensure_venv
    log "installing ministack==$MINISTACK_VERSION"
    "$BENCH_VENV/bin/pip" install -q "ministack==$MINISTACK_VERSION"
}

install_fakecloud() {
    local bin="$PEERS_DIR/fakecloud/bin/fakecloud"
    if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$FAKECLOUD_VERSION"; then
        log "fakecloud $FAKECLOUD_VERSION already installed"; return
    fi
    log "building fakecloud $FAKECLOUD_VERSION (slow: ~30+ min on 2 cores; separate target dir so the workspace's build lock is not held)"
    mkdir -p "$PEERS_DIR"
    CARGO_TARGET_DIR="$FAKECLOUD_TARGET" nice -n 10 \
        cargo install fakecloud --version "$FAKECLOUD_VERSION" --locked --root "$PEERS_DIR/fakecloud"
}

install_fauxqs() {
    local dir="$PEERS_DIR/fauxqs"
    mkdir -p "$dir"
    cp "$HERE/fauxqs-launch.mjs" "$dir/launch.mjs"
    if [ -f "$dir/node_modules/fauxqs/package.json" ] \
        && grep -q "\"version\": \"$FAUXQS_VERSION\"" "$dir/node_modules/fauxqs/package.json" \
        && [ "$("$dir/node_modules/.bin/node" --version 2>/dev/null)" = "v$NODE_VERSION" ]; then
        log "fauxqs $FAUXQS_VERSION (node $NODE_VERSION) already installed"; return
    fi
    local arch
    case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
    log "installing fauxqs@$FAUXQS_VERSION and node-linux-$arch@$NODE_VERSION into $dir"
    (cd "$dir" && { [ -f package.json ] || npm init -y >/dev/null; } \
        && npm install --no-audit --no-fund "fauxqs@$FAUXQS_VERSION" "node-linux-$arch@$NODE_VERSION")
    "$dir/node_modules/.bin/node" --version
}

peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(moto ministack fauxqs fakecloud)
for peer in "${peers[@]}"; do
    case "$peer" in
        moto) install_moto ;;
        ministack) install_ministack ;;
        fakecloud) install_fakecloud ;;
        fauxqs) install_fauxqs ;;
        *) echo "unknown peer: $peer (moto, ministack, fakecloud, fauxqs)" >&2; exit 2 ;;
    esac
done
