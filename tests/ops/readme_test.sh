#!/usr/bin/env bash
# Every command README.md shows runs here, as written, the way a newcomer
# types it: each section's ```sh block, in a fresh shell in a scratch
# directory where build/, ops/ and schemas/ point at this checkout's (so
# `build/ticketd`, `ops/dev-stores.sh`, `schemas/...` resolve as in a clone).
# The only liberties, all mechanical:
#   - a server (`build/ticketd ...`, `build/ticketctl kafka-mock`) starts in
#     the background and the next line runs once it listens, as in a second
#     terminal; a trailing `&` is dropped (same thing);
#   - the fixed ports (8080, 8091-8093 and the dev stores' 6390/5490) become
#     free ones, `BS=<what it printed>` takes what kafka-mock printed, and
#     /tmp/sim becomes a scratch path;
#   - curl fails on an HTTP error (-f; a GET is tried again for 5 s) and gives
#     up after 30 s;
#   - "# ... the same curl commands as above" runs the http section's curls.
# Every ```sh block must carry a `<!-- readme-test: NAME -->` line that names
# a section below; `setup` is ops/setup.sh = install-deps + the build (what
# ops/test.sh runs) + ops/demo.sh, which runs here too.
#
#   tests/ops/readme_test.sh BUILD_DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: readme_test.sh BUILD_DIR}" && pwd)
README=$ROOT/README.md
WORK=$(mktemp -d /tmp/readme-test-XXXXXX)
chmod 755 "$WORK"  # the dev stores' PostgreSQL runs as user postgres
cleanup() {
  for pidfile in "$WORK"/*/.pids; do
    [[ -f $pidfile ]] && xargs -r kill -TERM <"$pidfile" 2>/dev/null
  done
  for d in "$WORK"/*/ticketledger-stores; do
    [[ -d $d ]] && (cd "$(dirname "$d")" && "$ROOT/ops/dev-stores.sh" stop >/dev/null 2>&1 || true)
  done
  sleep 0.5
  [[ ${KEEP:-0} == 1 ]] && echo "readme_test: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "readme_test: FAIL: $*" >&2; exit 1; }
# Sets variable $1 to a loopback port nothing listens on, not handed out
# before in this run.
USED=" "
pick_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    [[ $USED == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    USED+="$p "
    printf -v "$1" '%s' "$p"
    return
  done
}

# The ```sh block after `<!-- readme-test: NAME -->`.
block() {
  awk -v want="$1" '
    $0 == "<!-- readme-test: " want " -->" { armed = 1; next }
    armed && /^```sh$/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }' "$README"
}

# Each ```sh block is marked, and each mark is a section this test knows.
check_marks() {
  local known=" setup http kafka stores rebuild ticketctl audit "
  awk '/^```sh$/ { if (prev !~ /^<!-- readme-test: [a-z]+ -->$/) { print NR; bad = 1 } }
       { prev = $0 } END { exit bad }' "$README" >"$WORK/unmarked" ||
    fail "README.md has a \`\`\`sh block with no readme-test mark at line(s): $(tr '\n' ' ' <"$WORK/unmarked")"
  local name
  for name in $(sed -n 's/^<!-- readme-test: \([a-z]*\) -->$/\1/p' "$README"); do
    [[ $known == *" $name "* ]] || fail "README.md marks a block '$name' this test does not run"
    [[ -n $(block "$name") ]] || fail "the '$name' mark is not followed by a \`\`\`sh block"
  done
}

# The shell every section runs in: helpers for the liberties above.
prelude() {
  cat <<'EOF'
set -euo pipefail
# A GET that fails is tried again for a few seconds: a 202 is durable, not
# yet decided, and a newcomer types slower than a script.
curl() {
  local rc=0 try
  for try in $(seq 20); do
    rc=0
    command curl -sS -f --max-time 30 "$@" || rc=$?
    [[ $rc == 22 && " $* " != *" -X "* ]] || return $rc
    sleep 0.25
  done
  return $rc
}
# Starts a server in the background, waits until it listens, remembers it.
serve() {
  local log=".server-$((++SERVERS)).log"
  : >"$log"
  "$@" >"$log" 2>&1 &
  echo $! >>.pids
  for _ in $(seq 300); do
    if grep -qE 'listening on|^[0-9.:,]+$' "$log"; then return 0; fi
    kill -0 $! 2>/dev/null || { cat "$log" >&2; echo "server exited: $*" >&2; return 1; }
    sleep 0.1
  done
  cat "$log" >&2
  echo "server never listened: $*" >&2
  return 1
}
SERVERS=0
EOF
}

# The README block `name` turned into a script by the liberties above.
script_of() {
  local name=$1
  block "$name" |
    sed -E -e 's/ &( +#.*)?$/\1/' \
      -e 's#^build/ticketd #serve build/ticketd #' \
      -e 's#^build/ticketctl kafka-mock#serve build/ticketctl kafka-mock#' \
      -e 's#^BS=[^ ]+#BS=$(head -1 .server-1.log)#' \
      -e "s#\\b8080\\b#$P8080#g; s#\\b8091\\b#$P8091#g; s#\\b8092\\b#$P8092#g; s#\\b8093\\b#$P8093#g" \
      -e "s#/tmp/sim#$SIM#g"
}

# The http section's curl commands (with the lines they continue onto).
http_curls() {
  block http | awk '/^curl / { on = 1 } on { print } on && !/\\$/ { on = 0 }'
}

# Runs sections `$@` one after another in one shell, in a fresh directory.
run() {
  local dir=$WORK/$1
  mkdir -p "$dir"
  chmod 755 "$dir"
  ln -s "$BUILD" "$dir/build"
  ln -s "$ROOT/ops" "$dir/ops"
  ln -s "$ROOT/schemas" "$dir/schemas"
  local redis_port pg_port
  for v in P8080 P8091 P8092 P8093 redis_port pg_port; do pick_port "$v"; done
  SIM=$dir/sim
  {
    prelude
    echo "export TICKETD_PORT=$P8080 REDIS_PORT=$redis_port PG_PORT=$pg_port"
    local name
    for name in "$@"; do
      echo "echo '== README section: $name'"
      script_of "$name" | while IFS= read -r line; do
        if [[ $line == '# ... the same curl commands as above'* ]]; then
          block http | grep -E '^(TOKEN|ADMIN|API)='
          http_curls
        else
          printf '%s\n' "$line"
        fi
      done | sed -E "s#\\b8080\\b#$P8080#g"
    done
  } >"$dir/script.sh"
  echo "== readme_test: sections $* (script: $dir/script.sh)"
  (cd "$dir" && env -u TICKETD_JWT_SECRET -u TICKETLEDGER_SEED_SECRET -u TICKETD_PASS_KEY bash script.sh) \
    >"$dir/out.log" 2>&1 || {
    cat "$dir/out.log"
    for f in "$dir"/.server-*.log; do [[ -f $f ]] && { echo "--- $f"; tail -20 "$f"; }; done
    fail "README section(s) $* failed (script above: $dir/script.sh)"
  }
  [[ -f $dir/.pids ]] && xargs -r kill -TERM <"$dir/.pids" 2>/dev/null
  rm -f "$dir/.pids"
}

# What a section must have shown.
expect() {
  local dir=$WORK/$1 pattern=$2 why=$3
  grep -qE -- "$pattern" "$dir/out.log" || { cat "$dir/out.log"; fail "$1: $why (no /$pattern/)"; }
}

check_marks

run http
expect http '"id":"summer"' "the campaign was not created"
expect http '"status":"(won|lost|sold_out)"' "no decision reached the SSE stream or the wait"
expect http '"jti":"shop:1"' "ticketctl pass verify did not accept the winner's pass"

run kafka
expect kafka 'partitions_owned' "the engines' metrics were not shown"
expect kafka 'campaign_id: "summer"' "partition 0 of the ledger does not hold summer's records"
expect kafka 'CLEAN|clean' "the Kafka audit did not pass"

run stores rebuild
expect stores 'swapped|swap' "the rebuilds did not swap their copies in"

run ticketctl audit
expect ticketctl 'ticketctl [0-9]' "--version printed nothing"
expect ticketctl 'CLEAN|clean' "the audits did not pass"

echo "== readme_test: ops/demo.sh"
pick_port DEMO_PORT
PORT=$DEMO_PORT "$ROOT/ops/demo.sh" >"$WORK/demo.log" 2>&1 || {
  cat "$WORK/demo.log"
  fail "ops/demo.sh failed"
}
grep -q '"outcome":"won"\|"status":"won"' "$WORK/demo.log" || {
  cat "$WORK/demo.log"
  fail "ops/demo.sh showed no winner"
}
echo "readme_test: every README command ran"
