#!/usr/bin/env python3
"""Many connections that each begin a frame and stall, against a running msrp-server
(issue 19, DEC-20/DEC-21). Reports the server's RSS before, at its peak during, and after the
attack, whether LIST was answered throughout, and whether the independent probe passed
during the attack.

usage: budget_attack.py --target HOST:PORT --pid SERVER_PID --conns N
                        [--mode text|relay|idle] [--hold SECONDS] [--probe PATH]
  text   each connection logs in and sends 65 000 bytes of MSG text with no terminator
  relay  each connection logs in, sends a relay FILE header to itself declaring 130 000 bytes
         and 65 000 body bytes (half the body), then stops; it never reads
  idle   each connection logs in and sends nothing (the idle baseline for N connections)
Traffic goes to the target only (use 127.0.0.1); every loop is bounded.
"""
import argparse, socket, struct, subprocess, sys, threading, time

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TEXT_BYTES = 65_000
# Every rule the probe checks except LIST-1/LIST-2: its LIST check compares the whole list,
# which cannot hold while thousands of attackers are logged in (LIST is checked here instead).
PROBE_IDS = ("NAME-1,NAME-2,NAME-3,NAME-4,NAME-5,MSG-1,MSG-2,MSG-3,MSG-4,MSG-5,ENC-3,ERR-2,"
             "ERR-3,ERR-4,LIM-1,FILE-1,FILE-2,FILE-3,FILE-6,FILE-7,ACK-1,ACK-2,ACK-3")


def name(i):
    return ("a" + DIGITS[i // 3844] + DIGITS[(i // 62) % 62] + DIGITS[i % 62]).encode()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


def stall_bytes(mode, me):
    if mode == "text":
        return struct.pack(">H", 1) + b"wlst" + b"x" * TEXT_BYTES
    if mode == "relay":
        header = struct.pack(">H", 2) + me + b"half.bin\0" + struct.pack(">QI", 2 * TEXT_BYTES, 0) + b"\0"
        return header + b"\x42" * TEXT_BYTES
    return b""


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except OSError:
                return
            time.sleep(0.05)


class ListWitness(threading.Thread):
    """Asks for LIST every 0.5 s on its own connection; counts answers and the worst wait."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.s = socket.create_connection(target, timeout=10)
        self.s.sendall(b"wlst")
        self.asked = self.answered = self.listed = 0
        self.worst = 0.0
        self.error = None
        self.stop = threading.Event()

    def run(self):
        buf = b""
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                self.asked += 1
                self.s.sendall(struct.pack(">H", 3))
                # The reply ends with "\n\0"; MSG frames addressed to us (the attackers'
                # texts, if one ever completed) would end with "\0" too, so look for LIST's.
                while b"\n\0" not in buf:
                    chunk = self.s.recv(1 << 20)
                    if not chunk:
                        raise OSError("the server closed the LIST witness")
                    buf += chunk
                end = buf.index(b"\n\0") + 2
                reply, buf = buf[:end], buf[end:]
                self.listed = reply.count(b"\nCliente ")
                self.answered += 1
                self.worst = max(self.worst, time.monotonic() - t)
            except OSError as e:
                self.error = str(e)
                return
            time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--conns", type=int, default=3000)
    ap.add_argument("--mode", choices=["text", "relay", "idle"], default="text")
    ap.add_argument("--hold", type=float, default=10.0, help="seconds to hold after the last connection")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds between closing and the after-close sample")
    ap.add_argument("--probe", default="", help="path of msrp_probe.py, run during the attack")
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    target = (host, int(port))

    before = rss_kib(a.pid)
    sampler = Sampler(a.pid)
    sampler.start()
    witness = ListWitness(target)
    witness.start()
    t0 = time.monotonic()
    socks, refused = [], 0
    for i in range(a.conns):
        me = name(i)
        try:
            s = socket.create_connection(target, timeout=10)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(me + stall_bytes(a.mode, me))
            socks.append(s)
        except OSError:
            # Closed by the server while sending (evicted under DEC-20), or out of descriptors.
            refused += 1
    opened = time.monotonic() - t0
    probe = None
    if a.probe:
        probe = subprocess.run([sys.executable, a.probe, "--target", a.target, "--only", PROBE_IDS],
                               capture_output=True, text=True, timeout=300)
    time.sleep(max(0.0, a.hold - (time.monotonic() - t0 - opened)))
    # Attackers still logged in, from the witness's last LIST (itself excluded). (A read on
    # each attacker's socket cannot tell: a relay attacker's own unread body is still queued
    # before the server's FIN.)
    time.sleep(1.0)
    still = max(0, witness.listed - 1)
    during = rss_kib(a.pid)
    witness.stop.set()
    witness.join(timeout=15)
    sampler.stop.set()
    sampler.join()
    peak = sampler.peak
    for s in socks:
        s.close()
    witness.s.close()
    time.sleep(a.settle)
    after = rss_kib(a.pid)
    mib = lambda k: f"{k / 1024:.1f} MiB"
    print(f"mode={a.mode} conns={a.conns} (opened in {opened:.1f} s, {refused} failed while sending)")
    print(f"  server RSS: before {mib(before)}  peak {mib(peak)}  at end of hold {mib(during)}  "
          f"after close (+{a.settle:.0f} s) {mib(after)}")
    print(f"  attackers still logged in at the end of the hold (LIST): {still} of {len(socks)}")
    ok = witness.error is None and witness.answered == witness.asked
    print(f"  LIST witness: {witness.answered}/{witness.asked} answered, worst {witness.worst * 1000:.0f} ms"
          + ("" if witness.error is None else f", error: {witness.error}"))
    if probe is not None:
        last = (probe.stdout.strip().splitlines() or ["(no output)"])[-1]
        print(f"  probe during the attack: {last} (exit {probe.returncode})")
        if probe.returncode != 0:
            print("    " + "\n    ".join(l for l in probe.stdout.splitlines() if "FAIL" in l))
        ok = ok and probe.returncode == 0
    sys.exit(0 if ok else 1)


main()
