#!/usr/bin/env bash
# Read-model benchmark: a 1,000,000-entry ledger (ticketctl simulate, 5%
# lottery), then `ticketctl rebuild redis` and `ticketctl rebuild postgres`
# into a redis-server and a PostgreSQL started here on free ports (default
# configs: PostgreSQL fsync on). Usage: benchmarks/projection_bench.sh [users]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-1000000}
WORK=$(mktemp -d /tmp/ticketledger-projbench-XXXXXX)
chmod 755 "$WORK"
RPORT=${RPORT:-16390}
PPORT=${PPORT:-15490}
PGBIN=/usr/lib/postgresql/15/bin
cleanup() {
  kill "$(cat "$WORK/redis.pid" 2>/dev/null)" 2>/dev/null || true
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
mkdir "$WORK/pg" && chown postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg/server.log" -w \
  -o "-p $PPORT -k $WORK/pg -c listen_addresses=127.0.0.1" start >/dev/null
echo "== ledger: ticketctl simulate --users $USERS =="
build/ticketctl simulate --sim-dir "$WORK/node" --users "$USERS" --stock 50000 --win-bps 500 \
  --batch 1024 | grep -E "entries|events|digest" || true
RECORDS=$(build/ticketctl --data-dir "$WORK/node" replay 2>/dev/null | grep -oE '[0-9]+ events' | head -1 | grep -oE '[0-9]+')
echo "ledger records: $RECORDS"
for target in redis postgres; do
  echo "== ticketctl rebuild $target =="
  start=$(date +%s.%N)
  build/ticketctl --data-dir "$WORK/node" rebuild "$target" \
    --redis-url "redis://127.0.0.1:$RPORT" \
    --postgres-url "postgresql://postgres@127.0.0.1:$PPORT/postgres"
  end=$(date +%s.%N)
  echo "$target: $(echo "$end - $start" | bc) s, $(echo "$RECORDS / ($end - $start)" | bc) events/s"
done
