#!/usr/bin/env bash
# Wall time of the whole client suite (scenarios/client) against msrp-client, 5 runs, and of
# one run at a time (-j 1). PROFILE=debug times the debug binaries instead of a release build
# (no second full build on a shared machine). Aim (issue 15): under 10 s.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
  cargo build --release -q --bin msrp-check -p msrp
  cargo build --release -q --bin msrp-client -p msrp-reference
else
  cargo build -q --bin msrp-check -p msrp
  cargo build -q --bin msrp-client -p msrp-reference
fi
bin=target/$profile
client="$PWD/$bin/msrp-client --server {host}:{port} --name {name} --download-dir {download_dir}"
count=$(ls scenarios/client/*.yaml | wc -l)
run() { # run LABEL [msrp-check args...]
  local label=$1; shift
  local times=()
  for _ in 1 2 3 4 5; do
    local t0 t1
    t0=$(date +%s.%N)
    "$bin/msrp-check" --client "$client" "$@" >/dev/null
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc)")
  done
  printf '%s (%s scenarios, %s build): %s s\n' "$label" "$count" "$profile" "${times[*]}"
}
run "client suite, default jobs"
run "client suite, -j 1" -j 1
