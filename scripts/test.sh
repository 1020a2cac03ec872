#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the Python test clients
# (pinned in tests/e2e/requirements.txt) into .venv, builds Stratus, runs the
# Rust tests and the end-to-end tests against the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=$PWD
VENV=${STRATUS_TEST_VENV:-$ROOT/.venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/e2e/requirements.txt

# The end-to-end tests (and the benchmarks) run the release binary. The Rust
# tests run in the dev profile: with debug assertions and overflow checks, and
# built in about half the time of release test binaries (thin LTO links each
# of the ~25 test binaries); they all run in well under a minute either way.
cargo build --release --locked --workspace --bins
cargo test --locked --workspace

export STRATUS_BIN="$PWD/target/release/stratus"
export PATH="$VENV/bin:$PATH"
cd tests/e2e
# Two workers: each starts its own session server.
exec "$VENV/bin/python" -m pytest -n 2 -q "$@"
