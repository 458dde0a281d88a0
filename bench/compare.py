"""Runs one `natrium bench` scenario against natrium-server and nats-server alternately and
prints medians and the Natrium / nats-server ratio. See compare.sh."""
import argparse, json, os, re, shutil, signal, statistics, subprocess, sys, tempfile, time

JS = {"js-pub-sync", "js-pub-async", "js-pull", "js-ordered", "kv"}


def cpu_seconds(pid):
    """utime + stime of a live process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(binary, js, extra):
    d = tempfile.mkdtemp(prefix="natrium-bench-")
    log = os.path.join(d, "server.log")
    args = [binary, "-a", "127.0.0.1", "-p", "-1", "-l", log] + extra
    if js:
        args += ["-js", "-sd", d]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            text = open(log).read()
        except OSError:
            text = ""
        m = re.search(r"client connections on \S+:(\d+)", text)
        if m and "Server is ready" in text:
            return p, int(m.group(1)), d
        if p.poll() is not None:
            break
        time.sleep(0.02)
    p.kill()
    raise SystemExit(f"{binary} did not start:\n{open(log).read() if os.path.exists(log) else ''}")


def run_once(tool, binary, scenario, bench_args, extra):
    p, port, d = start(binary, scenario in JS, extra)
    try:
        cpu0 = cpu_seconds(p.pid)
        t = os.times()
        children0 = t.children_user + t.children_system
        t0 = time.time()
        cmd = [tool, "bench", scenario, "--json", "-s", f"nats://127.0.0.1:{port}"] + bench_args
        child = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.time() - t0
        server_cpu = cpu_seconds(p.pid) - cpu0
        # The tool has been reaped and the server has not: the children's CPU delta is the tool's.
        t = os.times()
        tool_cpu = t.children_user + t.children_system - children0
        if child.returncode != 0:
            raise SystemExit(f"bench failed against {binary}: {child.stderr}")
        reports = [json.loads(l) for l in child.stdout.splitlines() if l.startswith("{")]
        return reports, server_cpu, tool_cpu, wall
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--natrium", required=True)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--nats", default=shutil.which("nats-server") or "nats-server")
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("--natrium-args", default="", help="extra natrium-server flags")
    ap.add_argument("--nats-args", default="", help="extra nats-server flags")
    ap.add_argument("scenario")
    ap.add_argument("bench_args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    servers = [("natrium", a.natrium, a.natrium_args.split()), ("nats-server", a.nats, a.nats_args.split())]
    results = {name: [] for name, _, _ in servers}
    for _ in range(a.rounds):
        for name, binary, extra in servers:
            results[name].append(run_once(a.tool, binary, a.scenario, a.bench_args, extra))
    print(f"scenario {a.scenario} {' '.join(a.bench_args)}  rounds={a.rounds}")
    sides = [r["side"] for r in results["natrium"][0][0]]
    for i, side in enumerate(sides):
        med = {}
        for name in results:
            rates = [rs[0][i]["msgs_per_s"] for rs in results[name]]
            lat = [rs[0][i].get("latency") for rs in results[name]]
            med[name] = (statistics.median(rates),
                         statistics.median([l["p50_us"] for l in lat]) if lat[0] else None,
                         statistics.median([l["p99_us"] for l in lat]) if lat[0] else None)
        n, g = med["natrium"], med["nats-server"]
        line = f"  {side:<4} msgs/s natrium {n[0]:>12.0f}  nats-server {g[0]:>12.0f}  ratio {n[0] / g[0]:.2f}x"
        if n[1] is not None:
            line += f"  p50 {n[1]}us/{g[1]}us ({n[1] / max(g[1], 1):.2f}x)  p99 {n[2]}us/{g[2]}us ({n[2] / max(g[2], 1):.2f}x)"
        print(line)
    for name in results:
        scpu = statistics.median([r[1] for r in results[name]])
        tcpu = statistics.median([r[2] for r in results[name]])
        wall = statistics.median([r[3] for r in results[name]])
        print(f"  cpu vs {name:<11} server {scpu:.2f}s  load tool {tcpu:.2f}s  wall {wall:.2f}s")


if __name__ == "__main__":
    main()
