#!/usr/bin/env python3
"""A deliberately naive MSRP server, the kind most first implementations look like.

It is here to show what msrp-check reports about a real foreign implementation (README, and
a test). Its bugs are the common ones listed in SPEC.md, "Seen in the wild":
- one recv() is taken as one frame (ENC-3): split or coalesced frames are lost;
- a forwarded MSG keeps the recipient's name instead of the sender's (MSG-2);
- unknown recipients, bad names, taken names and bad opcodes get no ERROR;
- names are never checked, files are forwarded as whatever recv() returned.

usage: naive_server.py [--port 8080]
"""
import argparse
import socket
import struct
import threading

clients = {}  # name -> socket, in connection order (dicts keep insertion order)
lock = threading.Lock()


def handle(conn):
    name = conn.recv(4)
    if len(name) < 4:
        conn.close()
        return
    with lock:
        clients[name] = conn
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            op = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 0
            if op in (1, 2):  # MSG / FILE: forward the bytes as they came
                to = data[2:6]
                with lock:
                    peer = clients.get(to)
                if peer is not None:
                    peer.sendall(data)
            elif op == 3:
                with lock:
                    names = list(clients)
                text = "Lista de clientes:\n" + "".join(
                    f"Cliente {i}: {n.decode('latin-1')}\n" for i, n in enumerate(names, 1))
                conn.sendall(struct.pack(">H", 3) + text.encode("latin-1") + b"\0")
            elif op == 4:  # ACK: tell everybody, someone will know
                with lock:
                    peers = [c for n, c in clients.items() if c is not conn]
                for p in peers:
                    p.sendall(data)
    except OSError:
        pass
    finally:
        with lock:
            if clients.get(name) is conn:
                del clients[name]
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    port = ap.parse_args().port
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(128)
    print(f"naive server on 127.0.0.1:{srv.getsockname()[1]}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
