#!/usr/bin/env bash
# How long msrp-check takes to diagnose a target that accepts connections and never answers
# (the C fixture with --mute): started by --server-cmd, and already running (--target); then,
# for comparison, the whole suite against it with --keep-going (today's behaviour before the
# preflight). Needs cc.
source "$(dirname "$0")/lib.sh"
fixture=target/release/thread_server
cc -O1 -pthread -fstack-protector-all -o "$fixture" contrib/fixtures/thread_server.c
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f s", b - a }'; }
for i in 1 2 3 4 5; do
  t=$(now); target/release/msrp-check --server-cmd "$fixture --mute --port {port}" scenarios >/dev/null && s=0 || s=$?
  echo "--server-cmd, run $i: $(took "$t"), exit $s"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$fixture" --mute --port "$port" >/dev/null &
mute=$!
trap 'kill $mute 2>/dev/null || true' EXIT
sleep 0.3
for i in 1 2 3; do
  t=$(now); target/release/msrp-check --target "127.0.0.1:$port" scenarios >/dev/null && s=0 || s=$?
  echo "--target, run $i: $(took "$t"), exit $s"
done
target/release/msrp-check --target "127.0.0.1:$port" scenarios | sed -n '1,4p'
if [ "${1:-}" = "--with-keep-going" ]; then
  t=$(now); target/release/msrp-check --target "127.0.0.1:$port" --keep-going scenarios | tail -1
  echo "--keep-going (the whole suite against the mute target): $(took "$t")"
fi
