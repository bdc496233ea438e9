#!/usr/bin/env bash
# HTTP benchmark: wrk POSTs entries (a new user and a valid JWT per request)
# against a single-node ticketd with durable acknowledgement, keep-alive, at
# 64 and 1,000 connections. Usage: benchmarks/http_bench.sh [seconds] [threads]
# Prints wrk's report and the campaign's counters after each run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
THREADS=${2:-64}
PORT=${PORT:-18090}
WORK=$(mktemp -d /tmp/ticketledger-bench-XXXXXX)
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
echo "minting tokens..."
build/ticketctl token --user u --count 1200000 >"$WORK/tokens" 2>/dev/null
build/ticketd --dev --port "$PORT" --data-dir "$WORK/data" --user-rate 0 --tick-ms 0 \
  --threads "$THREADS" >"$WORK/ticketd.out" 2>"$WORK/ticketd.err" &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
ADMIN=$(build/ticketctl token --user ops --admin 2>/dev/null)
for c in 64 1000; do
  id="bench$c"
  curl -sf -X POST -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$id\",\"stock\":1000000000,\"win_bps\":500}" \
    "http://127.0.0.1:$PORT/v1/admin/campaigns" >/dev/null
  echo "== wrk -t2 -c$c -d${SECS}s (ticketd --threads $THREADS) =="
  TOKENS="$WORK/tokens" WRK_THREADS=2 ENTRY_PATH="/v1/campaigns/$id/entries" \
    wrk -t2 -c"$c" -d"${SECS}s" --latency --timeout 5s -s benchmarks/wrk_entries.lua \
    "http://127.0.0.1:$PORT/v1/campaigns/$id/entries"
  sleep 1
  echo "campaign after the run:"
  curl -s "http://127.0.0.1:$PORT/v1/campaigns/$id" | grep -o '"entries":[0-9]*'
  curl -s "http://127.0.0.1:$PORT/metrics" | grep -E 'requests_total\{route="post_entry"' || true
done
