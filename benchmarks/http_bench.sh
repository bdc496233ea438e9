#!/usr/bin/env bash
# HTTP benchmark: wrk POSTs entries (a new user and a valid JWT per request)
# against a single-node ticketd with durable acknowledgement, keep-alive, at
# 64, 1,000 and 10,000 connections. Usage: benchmarks/http_bench.sh [seconds] [io-threads]
# (io-threads 0 = one event loop per core). During every run a newcomer probe
# opens a fresh connection every 0.5 s and sends one entry; its latencies are
# printed after wrk's report (the first request of a newcomer is what a crowd
# starves first).
# SPLIT=1 runs the split topology instead: `ticketctl kafka-mock`, ticketd
# --role engine and ticketd --role api (commands and ledger on the mock).
# CONNS="64 1000 10000" chooses the connection counts.
# Prints wrk's report and the campaign's counters after each run.
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
SECS=${1:-15}
THREADS=${2:-0}
PORT=${PORT:-18090}
WORK=$(mktemp -d /tmp/ticketledger-bench-XXXXXX)
EXTRA_PIDS=""
trap 'kill -TERM $PID $EXTRA_PIDS 2>/dev/null; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
echo "minting tokens..."
build/ticketctl --dev token --user u --count 1200000 >"$WORK/tokens" 2>/dev/null
if [[ "${SPLIT:-}" == 1 ]]; then
  build/ticketctl kafka-mock >"$WORK/mock.out" 2>"$WORK/mock.err" &
  EXTRA_PIDS=$!
  for _ in $(seq 100); do [[ -s "$WORK/mock.out" ]] && break; sleep 0.1; done
  BROKERS=$(head -1 "$WORK/mock.out")
  build/ticketd --dev --role engine --kafka-brokers "$BROKERS" --partitions 4 --port 0 \
    --tick-ms 0 --data-dir "$WORK/engine" >"$WORK/engine.out" 2>"$WORK/engine.err" &
  EXTRA_PIDS="$EXTRA_PIDS $!"
  build/ticketd --dev --role api --kafka-brokers "$BROKERS" --partitions 4 --port "$PORT" \
    --data-dir "$WORK/api" --user-rate 0 --io-threads "$THREADS" --conns-per-address-max 20000 \
    >"$WORK/ticketd.out" 2>"$WORK/ticketd.err" &
  PID=$!
  sleep 4  # the engine's group assigns its partitions
else
  build/ticketd --dev --port "$PORT" --data-dir "$WORK/data" --user-rate 0 --tick-ms 0 \
    --io-threads "$THREADS" --conns-per-address-max 20000 \
    >"$WORK/ticketd.out" 2>"$WORK/ticketd.err" &
  PID=$!
fi
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
TARGET=$PORT
ADMIN=$(build/ticketctl --dev token --user ops --admin 2>/dev/null)
build/ticketctl --dev token --user newcomer --count 1000 >"$WORK/newcomers" 2>/dev/null
# A fresh connection every 0.5 s, one entry each: prints "status seconds" lines.
probe() {
  local path=$1 out=$2 n=0
  while read -r tok; do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 5 -X POST \
      -H "Authorization: Bearer $tok" -H 'Content-Length: 0' \
      "http://127.0.0.1:$TARGET$path" >>"$out" || echo "000 5.0" >>"$out"
    n=$((n + 1))
    sleep 0.5
  done
}
for c in ${CONNS:-64 1000 10000}; do
  id="bench$c"
  curl -sf -X POST -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$id\",\"stock\":1000000000,\"win_bps\":500}" \
    "http://127.0.0.1:$PORT/v1/admin/campaigns" >/dev/null
  echo "== wrk -t2 -c$c -d${SECS}s (ticketd --io-threads $THREADS${SPLIT:+, split over the Kafka mock}) =="
  sed -n "$((c % 900 + 1)),\$p" "$WORK/newcomers" | head -$((SECS * 2 - 2)) |
    (sleep 1 && probe "/v1/campaigns/$id/entries" "$WORK/probe$c") &
  PROBE=$!
  TOKENS="$WORK/tokens" WRK_THREADS=2 ENTRY_PATH="/v1/campaigns/$id/entries" \
    wrk -t2 -c"$c" -d"${SECS}s" --latency --timeout 5s -s benchmarks/wrk_entries.lua \
    "http://127.0.0.1:$TARGET/v1/campaigns/$id/entries"
  wait $PROBE || true
  echo "newcomers (fresh connection, one entry each, during the run):"
  sort -k2 -n "$WORK/probe$c" | awk '{ s[NR] = $2; if ($1 != "202") bad++ }
    END { printf "  n=%d  not 202: %d  p50=%.1f ms  p99=%.1f ms  max=%.1f ms\n", NR, bad + 0,
          s[int(NR * 0.5 + 0.5)] * 1000, s[int(NR * 0.99 + 0.5)] * 1000, s[NR] * 1000 }'
  if [[ "${SPLIT:-}" == 1 ]]; then sleep 5; else sleep 1; fi
  echo "campaign after the run:"
  curl -s "http://127.0.0.1:$PORT/v1/campaigns/$id" | grep -o '"entries":[0-9]*'
  curl -s "http://127.0.0.1:$PORT/metrics" | grep -E 'requests_total\{route="post_entry"' || true
done
