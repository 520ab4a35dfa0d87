#!/usr/bin/env bash
# Server RSS with 10 000 idle logged-in clients (aim: under 100 MB).
# usage: bench/idle-rss.sh [CLIENTS]
source "$(dirname "$0")/lib.sh"
n=${1:-10000}
start_server --max-clients $((n + 10))
python3 bench/idle_clients.py --target "$server_addr" --pid "$server_pid" --clients "$n"
