"""Measures a server's resident memory with N idle connections holding S subscriptions in
total (issue core: 1,000 connections, 100,000 subscriptions). Usage:
    python3 bench/rss.py BINARY [--conns 1000] [--subs 100000]
Prints `<binary> rss_idle_kb rss_loaded_kb`. Raw sockets, so no client library is involved."""
import argparse, os, re, signal, socket, subprocess, tempfile, time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--conns", type=int, default=1000)
    ap.add_argument("--subs", type=int, default=100000)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="natrium-rss-")
    log = os.path.join(d, "log")
    p = subprocess.Popen([a.binary, "-a", "127.0.0.1", "-p", "-1", "-l", log],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = None
    for _ in range(500):
        try:
            m = re.search(r"client connections on \S+:(\d+)", open(log).read())
            if m:
                port = int(m.group(1))
                break
        except OSError:
            pass
        time.sleep(0.02)
    time.sleep(0.3)
    idle = rss_kb(p.pid)
    socks = []
    per = a.subs // a.conns
    for i in range(a.conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.recv(4096)
        cmds = ["CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"]
        cmds += [f"SUB rss.{i}.{j}.> {j}\r\n" for j in range(per)]
        cmds.append("PING\r\n")
        s.sendall("".join(cmds).encode())
        buf = b""
        while b"PONG" not in buf:
            buf += s.recv(65536)
        socks.append(s)
    time.sleep(1.0)
    loaded = rss_kb(p.pid)
    print(f"{os.path.basename(a.binary)} conns={a.conns} subs={per * a.conns} rss_idle_kb={idle} rss_loaded_kb={loaded}")
    for s in socks:
        s.close()
    p.send_signal(signal.SIGKILL)
    p.wait()


if __name__ == "__main__":
    main()
