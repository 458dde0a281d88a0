#!/usr/bin/env bash
# Runs every scenario the issues report (core and JetStream) through compare.sh, both servers
# in one run, and the RSS measurement. Output is the raw material of docs/benchmarks.md.
#   bench/run-all.sh [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
r="${1:-3}"
cmp() { "$here/compare.sh" -r "$r" "$@"; echo; }
always="$(mktemp --suffix=.conf)"
echo 'jetstream { sync_interval: always }' > "$always"
cmp pub -n 1000000 --size 16
cmp pub-sub -n 500000 --size 16
cmp pub-sub -n 500000 --size 128
cmp fanout -n 200000 --size 128 --subs 4
cmp queue -n 500000 --size 128 --subs 4
cmp req-rep -n 20000 --size 128
cmp js-pub-sync -n 5000 --size 128
cmp js-pub-async -n 100000 --size 128 --window 256
cmp js-pub-async -n 50000 --size 1024 --window 256
cmp --nats-args "-c $always" js-pub-async -n 20000 --size 128 --window 256
cmp js-pull -n 100000 --size 128 --batch 500 --ack explicit
cmp kv -n 5000 --size 128
rm -f "$always"
python3 "$here/rss.py" "$(cd "$here/.." && pwd)/target/release/natrium-server"
python3 "$here/rss.py" "$(command -v nats-server)"
