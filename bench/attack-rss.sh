#!/usr/bin/env bash
# msrp-server's memory under attack (slowloris, u64::MAX relay, stalled recipient, floods),
# with two witnesses chatting throughout. usage: bench/attack-rss.sh
source "$(dirname "$0")/lib.sh"
start_server --handshake-timeout 2
python3 bench/attacks.py --target "$server_addr" --pid "$server_pid"
