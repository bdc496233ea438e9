#!/usr/bin/env bash
# The crowd benchmark: one single-node ticketd holds as many live watchers as
# the machine's file limit allows (ticketload --profile crowd, 18,000 SSE
# streams over 3 processes and 24 loopback addresses, arriving over 10 s,
# positions moving at 100/s), and while they are all held, wrk posts entries at 64 connections
# into another campaign: the entry rate with the crowd, against the same wrk
# run before the crowd arrives. Prints ticketd's RSS and open streams at the
# peak, wrk's reports, and ticketload's report (update lag, checks).
# Usage: benchmarks/crowd_bench.sh [watchers] [more ticketload flags, e.g. --admission-rate 50]
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
USERS=${1:-18000}
shift || true
PORT=${PORT:-18190}
WORK=$(mktemp -d /tmp/ticketledger-crowd-XXXXXX)
trap 'kill -TERM $PID $LOAD 2>/dev/null; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
LOAD=""
build/ticketctl --dev token --user w --count 400000 >"$WORK/tokens" 2>/dev/null
build/ticketd --dev --port "$PORT" --data-dir "$WORK/data" --user-rate 0 \
  --conns-per-address-max 20000 >"$WORK/ticketd.out" 2>"$WORK/ticketd.err" &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
ADMIN=$(build/ticketctl --dev token --user ops --admin 2>/dev/null)
rss() { awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' "/proc/$PID/status"; }
streams() { curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^ticketledger_live_streams / { print $2 }'; }
wrk_run() {
  curl -sf -X POST -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$1\",\"stock\":1000000000,\"win_bps\":500}" \
    "http://127.0.0.1:$PORT/v1/admin/campaigns" >/dev/null
  TOKENS="$WORK/tokens" WRK_THREADS=2 ENTRY_PATH="/v1/campaigns/$1/entries" \
    wrk -t2 -c64 -d10s --latency --timeout 5s -s benchmarks/wrk_entries.lua \
    "http://127.0.0.1:$PORT/v1/campaigns/$1/entries" | grep -E "Requests/sec|  50%|  99%"
}
echo "== before the crowd: RSS $(rss); wrk -c64 =="
wrk_run before
echo "== the crowd arrives: ticketload --profile crowd --users $USERS =="
build/ticketload --url "http://127.0.0.1:$PORT" --profile crowd --users "$USERS" --ramp-s 10 \
  --server-pid "$PID" --quiet "$@" >"$WORK/load.out" 2>"$WORK/load.err" &
LOAD=$!
peak=0
for _ in $(seq 120); do
  sleep 1
  n=$(streams)
  n=${n:-0}
  n=${n%.*}
  # Held: the ramp is over once the count stops growing (the head of the
  # queue leaves at the admission rate).
  if ((n > 0 && n <= peak)); then break; fi
  if ((n > peak)); then peak=$n; fi
done
echo "== crowd held: $(streams) streams, ticketd RSS $(rss); wrk -c64 meanwhile =="
wrk_run during
echo "== after wrk: $(streams) streams, RSS $(rss) =="
wait $LOAD && rc=0 || rc=$?
LOAD=""
echo "== ticketload (exit $rc) =="
cat "$WORK/load.out"
