# Shared by the bench scripts: build release binaries, start msrp-server on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
# MSRP_SERVER=path runs that msrp-server binary instead (e.g. an older build, for a "before"
# figure), and skips the build.
if [ -z "${MSRP_SERVER:-}" ]; then cargo build --release -q --workspace --bins; fi
start_server() { # start_server [server args...]; sets $server_pid and $server_addr
  local log; log=$(mktemp)
  "${MSRP_SERVER:-target/release/msrp-server}" --listen 127.0.0.1:0 "$@" 2>"$log" &
  server_pid=$!
  trap 'kill $server_pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.05; done
  server_addr=$(sed -n 's/.*listening on //p' "$log")
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, in clock ticks
