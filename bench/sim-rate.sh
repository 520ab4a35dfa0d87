#!/usr/bin/env bash
# The highest message rate msrp-server sustains with 64 clients, its p99, and the CPU each
# side spends per message. usage: bench/sim-rate.sh [RATE...]
source "$(dirname "$0")/lib.sh"
rates=("$@"); [ ${#rates[@]} -gt 0 ] || rates=(50000 100000 200000 400000 600000 800000 1000000 1200000)
start_server --max-clients 1000
hz=$(getconf CLK_TCK)
printf '%9s %10s %9s %9s %9s %13s %13s %s\n' rate achieved "p50 ms" "p99 ms" "max ms" "sim µs/msg" "server µs/msg" integrity
for r in "${rates[@]}"; do
  before=$(cpu_ticks "$server_pid")
  out=$( { /usr/bin/time -f "TIME %U %S" target/release/msrp-sim --target "$server_addr" --clients 64 \
           --mix msg=1 --rate "$r" --duration 5 --quiet --json /tmp/sim-rate.json; } 2>&1 ) || true
  after=$(cpu_ticks "$server_pid")
  python3 - "$r" "$before" "$after" "$hz" <<PY
import json, sys
r, before, after, hz = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rep = json.load(open("/tmp/sim-rate.json"))
t = [l for l in """$out""".splitlines() if l.startswith("TIME")][0].split()
sim_cpu = float(t[1]) + float(t[2])
n = rep["integrity"]["messages"]["delivered"]
l = rep["latency"]["msg"]
ok = "ok" if not rep["integrity"]["messages"]["lost"] and not rep["errors"] else "FAILED"
print(f"{r:9d} {n / 5:10.0f} {l['p50_ms']:9.2f} {l['p99_ms']:9.2f} {l['max_ms']:9.2f} {sim_cpu / n * 1e6:13.2f} {(after - before) / hz / n * 1e6:13.2f} {ok}")
PY
done
