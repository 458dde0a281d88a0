"""Summarizes a nextest JUnit report: per test binary and in total, `N passed, M failed`
(and `, K skipped` for skip-list entries in the binaries that ran). Exit 0 always; the
numbers are the result."""
import sys
import xml.etree.ElementTree as ET

args = sys.argv[1:]
sep = args.index("--") if "--" in args else len(args)
path, skips, ran = args[0], args[1:sep], [a for a in args[sep + 1:] if a != "--test"]
per = {}
try:
    root = ET.parse(path).getroot()
except (OSError, ET.ParseError) as e:
    print(f"no test report ({e})")
    print("0 passed, 0 failed")
    sys.exit(0)
for suite in root.iter("testsuite"):
    binary = suite.get("name", "?").split("::")[-1]
    p = f = 0
    for case in suite.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            f += 1
        elif case.find("skipped") is None:
            p += 1
    per[binary] = [p, f, 0]
for s in skips:
    binary = s.split("::")[0]
    if binary in ran:
        per.setdefault(binary, [0, 0, 0])[2] += 1
tp = tf = ts = 0
for binary in sorted(per):
    p, f, s = per[binary]
    tp, tf, ts = tp + p, tf + f, ts + s
    print(f"{binary}: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
print(f"{tp} passed, {tf} failed" + (f", {ts} skipped" if ts else ""))
