#!/usr/bin/env bash
# Read-model benchmark: a 1,000,000-entry ledger (ticketctl simulate, 5%
# lottery), then `ticketctl rebuild redis` and `ticketctl rebuild postgres`
# into a redis-server and a PostgreSQL started by ops/dev-stores.sh (default
# configs: PostgreSQL fsync on; Redis without AOF). Usage:
# benchmarks/projection_bench.sh [users]
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-1000000}
WORK=$(mktemp -d /tmp/ticketledger-projbench-XXXXXX)
chmod 755 "$WORK"
export REDIS_PORT=${REDIS_PORT:-16390} PG_PORT=${PG_PORT:-15490} REDIS_APPENDONLY=no
trap 'ops/dev-stores.sh stop "$WORK/stores" >/dev/null; rm -rf "$WORK"' EXIT
ops/dev-stores.sh start "$WORK/stores" >/dev/null
echo "== ledger: ticketctl simulate --users $USERS =="
build/ticketctl --dev --data-dir "$WORK/node" simulate --users "$USERS" --stock 50000 --win-bps 500 \
  --batch 1024 | grep -E "entries|events|digest" || true
RECORDS=$(build/ticketctl --dev --data-dir "$WORK/node" replay 2>/dev/null | grep -oE '[0-9]+ events' | head -1 | grep -oE '[0-9]+')
echo "ledger records: $RECORDS"
for target in redis postgres; do
  echo "== ticketctl rebuild $target =="
  start=$(date +%s.%N)
  build/ticketctl --data-dir "$WORK/node" rebuild "$target" \
    --redis-url "redis://127.0.0.1:$REDIS_PORT" \
    --postgres-url "postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
  end=$(date +%s.%N)
  echo "$target: $(echo "$end - $start" | bc) s, $(echo "$RECORDS / ($end - $start)" | bc) events/s"
done
