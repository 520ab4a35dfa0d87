#!/usr/bin/env python3
"""Attack a running msrp-server and report its RSS under each attack (BENCHMARKS.md).

usage: attacks.py --target HOST:PORT --pid SERVER_PID
Each attack runs for a few seconds while two witnesses exchange messages; the line printed
gives the server's RSS before, at its peak during, and after the attack, and the witnesses'
worst round trip.
"""
import argparse, socket, struct, threading, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

def msg(to, text):
    return struct.pack(">H", 1) + to + text + b"\0"

def relay_header(to, name, size):
    return struct.pack(">H", 2) + to + name + b"\0" + struct.pack(">QI", size, 0) + b"\0"

def login(target, name):
    s = socket.create_connection(target)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(name)
    return s

class Witnesses:
    """Two clients chatting during an attack; records the worst round trip."""
    def __init__(self, target, tag):
        self.a = login(target, b"wa" + tag)
        self.b = login(target, b"wb" + tag)
        self.name_b = b"wb" + tag
        self.worst = 0.0
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        time.sleep(0.1)
        self.t.start()

    def run(self):
        self.b.settimeout(10)
        while not self.stop:
            t = time.monotonic()
            self.a.sendall(msg(self.name_b, b"ping"))
            got = b""
            while len(got) < 11:
                got += self.b.recv(64)
            self.worst = max(self.worst, time.monotonic() - t)
            time.sleep(0.05)

    def end(self):
        self.stop = True
        self.t.join()
        self.a.close(); self.b.close()
        return self.worst

def attack(name, pid, target, tag, body, seconds=4.0):
    before = rss_kib(pid)
    w = Witnesses(target, tag)
    peak = before
    stop = threading.Event()
    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss_kib(pid))
            time.sleep(0.05)
    s = threading.Thread(target=sample, daemon=True); s.start()
    held = body(target, seconds)
    stop.set(); s.join()
    worst = w.end()
    for c in held or []:
        try: c.close()
        except OSError: pass
    time.sleep(1.5)
    after = rss_kib(pid)
    print(f"{name:<42} RSS before {before/1024:6.1f} MiB  peak {peak/1024:6.1f} MiB  after {after/1024:6.1f} MiB  witnesses' worst round trip {worst*1000:6.1f} ms")

def slowloris(target, seconds):
    socks = []
    for _ in range(1000):
        s = socket.create_connection(target); s.sendall(b"s"); socks.append(s)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(1)
        for s in socks:
            try: s.sendall(b"l")
            except OSError: pass
    return socks

def huge_relay(target, seconds):
    rcpt = login(target, b"hrcv"); snd = login(target, b"hsnd"); time.sleep(0.1)
    snd.sendall(relay_header(b"hrcv", b"inf.bin", 2**64 - 1))
    chunk = b"\x42" * 65536
    rcpt.setblocking(False)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            snd.sendall(chunk)
        except OSError:
            break
        try:
            while rcpt.recv(1 << 20): pass
        except (BlockingIOError, OSError): pass
    return [snd, rcpt]

def stalled_recipient(target, seconds):
    rcpt = login(target, b"stal"); snd = login(target, b"ssnd"); time.sleep(0.1)
    snd.sendall(relay_header(b"stal", b"big.bin", 1 << 30))
    snd.settimeout(0.5)
    chunk = b"\x01" * 65536
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try: snd.sendall(chunk)
        except (socket.timeout, BlockingIOError): pass
    return [snd, rcpt]

def text_flood(target, seconds):
    sink = login(target, b"fsnk"); f = login(target, b"flod"); time.sleep(0.1)
    block = msg(b"fsnk", b"x" * 1000) * 64
    sink.setblocking(False)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            f.sendall(block)
        except OSError:
            print("  (the flooder was disconnected: its ERRORs or the sink's queue exceeded the budget)")
            break
        try:
            while sink.recv(1 << 20): pass
        except (BlockingIOError, OSError): pass
    return [f, sink]

def list_flood_unread(target, seconds):
    f = login(target, b"lflo"); time.sleep(0.1)
    f.settimeout(0.5)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try: f.sendall(struct.pack(">H", 3) * 10000)
        except (OSError, socket.timeout):
            print("  (the flooder was disconnected once its unread replies exceeded the budget, DEC-8)")
            break
    return [f]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--pid", type=int, required=True)
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    target = (host, int(port))
    attack("1000 slowloris connections (1 byte/s)", a.pid, target, b"01", slowloris, seconds=3)
    attack("relay declaring u64::MAX bytes, 1 GiB/s", a.pid, target, b"02", huge_relay)
    attack("stalled recipient of a 1 GiB relay", a.pid, target, b"03", stalled_recipient)
    attack("text flood, 64 KiB writes, read by sink", a.pid, target, b"04", text_flood)
    attack("LIST flood, replies never read", a.pid, target, b"05", list_flood_unread)

main()
