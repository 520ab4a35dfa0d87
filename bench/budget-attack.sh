#!/usr/bin/env bash
# Issue 19: msrp-server's RSS under N connections that each log in, begin a frame and stall
# (65 000 bytes of MSG text with no terminator; or a relay header to itself and half its body),
# with the independent probe and a LIST witness running during the attack. One fresh server
# per run; each N is also run idle (logged in, nothing sent) for the idle baseline.
# usage: bench/budget-attack.sh [N...]          (default: 3000 19000)
#   MSRP_SERVER=path   run another msrp-server build (e.g. main's, for the "before" figures)
#   SERVER_ARGS="..."  extra server options (e.g. "--frame-timeout 0" to see the budget alone)
#   MODES="idle text relay"
#   SETTLE=seconds     between closing the attackers and the after-close sample (default 5)
#   HOLD=seconds       how long the attackers stay after the last one is open (default 10;
#                      above the 30 s frame timeout, DEC-21 closes them during the hold)
# One process may hold at most 20 000 descriptors here, so 19 000 is the largest N.
source "$(dirname "$0")/lib.sh"
sizes=("$@"); [ ${#sizes[@]} -eq 0 ] && sizes=(3000 19000)
status=0
for n in "${sizes[@]}"; do
  for mode in ${MODES:-idle text relay}; do
    # shellcheck disable=SC2086
    start_server ${SERVER_ARGS:-}
    python3 bench/budget_attack.py --target "$server_addr" --pid "$server_pid" --conns "$n" \
      --mode "$mode" --hold "${HOLD:-10}" --settle "${SETTLE:-5}" --probe ../shared/interop/msrp_probe.py || status=1
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
  done
done
exit $status
