#!/usr/bin/env python3
"""Hold N logged-in, idle MSRP clients against a server, then report the server's RSS.

usage: idle_clients.py --target HOST:PORT --pid SERVER_PID [--clients 10000] [--hold 3]
Names are 'i' + 3 base-62 digits... (up to 238 328 distinct). Exit 1 if any login failed
(checked with a LIST from the last client, which must list all N).
"""
import argparse, socket, struct, sys, time

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

def name(i):
    return "i" + DIGITS[i // 3844] + DIGITS[(i // 62) % 62] + DIGITS[i % 62]

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--clients", type=int, default=10000)
    ap.add_argument("--hold", type=float, default=3.0)
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    before = rss_kib(a.pid)
    socks = []
    for i in range(a.clients):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(name(i).encode())
        socks.append(s)
    # The last client's LIST proves every login was registered.
    last = socks[-1]
    deadline = time.monotonic() + 30
    while True:
        last.sendall(struct.pack(">H", 3))
        buf = b""
        while not buf.endswith(b"\n\0"):
            buf += last.recv(1 << 20)
        listed = buf.count(b"Cliente ")
        if listed >= a.clients or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(a.hold)
    after = rss_kib(a.pid)
    print(f"{a.clients} idle clients: server RSS {after / 1024:.1f} MiB "
          f"(before {before / 1024:.1f} MiB, {(after - before) * 1024 / a.clients:.0f} bytes/client); listed {listed}")
    for s in socks:
        s.close()
    sys.exit(0 if listed == a.clients else 1)

main()
