#!/usr/bin/env bash
# Grading a class: 30 servers (12 correct, 8 naive, 5 mute, 5 crashing) in one msrp-check run
# (--targets: every target at once, each one scenario at a time on its own ports), against the
# same 30 checked one after another (30 runs of msrp-check --server-cmd). Needs cc and python3.
# Prints the summary table, both wall times, and where the reports are.
source "$(dirname "$0")/lib.sh"
fixture=target/release/thread_server
cc -O1 -pthread -fstack-protector-all -o "$fixture" contrib/fixtures/thread_server.c
dir=$(mktemp -d)
class=$dir/class.txt
{
  for i in $(seq -w 1 12); do echo "correct$i target/release/msrp-server --listen 127.0.0.1:{port}"; done
  for i in $(seq -w 1 8); do echo "naive$i python3 contrib/naive-server/naive_server.py --port {port}"; done
  for i in $(seq -w 1 5); do echo "mute$i $fixture --mute --port {port}"; done
  for i in $(seq -w 1 5); do echo "crashy$i $fixture --port {port}"; done
} > "$class"
now() { date +%s.%N; }
t0=$(now)
target/release/msrp-check --targets "$class" --summary-csv "$dir/summary.csv" scenarios \
  > "$dir/concurrent.txt" || true
t1=$(now)
if [ "${1:-}" != "--concurrent-only" ]; then
  while read -r label cmd; do
    target/release/msrp-check --server-cmd "$cmd" scenarios > "$dir/seq-$label.txt" || true
  done < "$class"
fi
t2=$(now)
sed -n '/^target  /,$p' "$dir/concurrent.txt"
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "concurrent, one run of 30 targets: %.1f s\n", b - a }'
[ "${1:-}" = "--concurrent-only" ] ||
  awk -v a="$t1" -v b="$t2" 'BEGIN { printf "one after another, 30 runs:       %.1f s\n", b - a }'
echo "reports: $dir"
