#!/usr/bin/env bash
# Development Redis and PostgreSQL for the read models, from nothing: starts
# redis-server and a PostgreSQL 15 cluster (initdb as the `postgres` user) on
# loopback ports in a directory, prints the URLs ticketd and ticketctl take.
#
#   ops/dev-stores.sh start [dir]    # default dir ./ticketledger-stores
#   ops/dev-stores.sh stop  [dir]
#   ops/dev-stores.sh --help
# Ports: REDIS_PORT (default 6390), PG_PORT (default 5490); REDIS_APPENDONLY
# (default yes: Redis keeps its data across restarts).
set -euo pipefail
cmd=${1:-start}
DIR=$(realpath -m "${2:-./ticketledger-stores}")
REDIS_PORT=${REDIS_PORT:-6390}
PG_PORT=${PG_PORT:-5490}
PGBIN=/usr/lib/postgresql/15/bin
as_postgres() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "$cmd" in
  -h|--help)
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  start)
    mkdir -p "$DIR/redis" "$DIR/pg"
    chmod 755 "$DIR"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis" --appendonly "${REDIS_APPENDONLY:-yes}" \
      --daemonize yes --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/redis.log"
    if [[ ! -f "$DIR/pg/PG_VERSION" ]]; then
      [[ $(id -u) -eq 0 ]] && chown postgres "$DIR/pg"
      as_postgres "$PGBIN/initdb" -D "$DIR/pg" -A trust -U postgres >/dev/null
    fi
    as_postgres "$PGBIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg/server.log" -w \
      -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1" start >/dev/null
    echo "export TICKETD_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
    echo "export TICKETD_POSTGRES_URL=postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
    ;;
  stop)
    [[ -f "$DIR/redis/redis.pid" ]] && kill "$(cat "$DIR/redis/redis.pid")" 2>/dev/null || true
    as_postgres "$PGBIN/pg_ctl" -D "$DIR/pg" -m fast stop >/dev/null 2>&1 || true
    echo "stopped (data kept in $DIR)"
    ;;
  *)
    echo "usage: $0 start|stop [dir]" >&2
    exit 2
    ;;
esac
