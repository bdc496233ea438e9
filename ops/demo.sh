#!/usr/bin/env bash
# A drop you can watch with curl: starts ticketd (development secrets) with
# the campaign "demo" (stock 10, 50% win, 20 positions admitted per second),
# lets 30 users in, follows the last one through the waiting room to its
# outcome, and shows the results. Stops ticketd at the end.
# PORT=8080 by default; KEEP=1 leaves ticketd running (then open the pages
# it prints: the waiting room and the operator dashboard, signed in with any
# name through the development sign-in that --dev offers).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-8080}
API=http://127.0.0.1:$PORT
DATA=$(mktemp -d /tmp/ticketledger-demo-XXXXXX)
build/ticketd --dev --demo --port "$PORT" --data-dir "$DATA" >"$DATA/ticketd.out" 2>"$DATA/ticketd.err" &
PID=$!
if [[ "${KEEP:-0}" != 1 ]]; then
  trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
fi
for _ in $(seq 100); do
  curl -sf "$API/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$API/readyz" >/dev/null || { cat "$DATA/ticketd.err"; exit 1; }
token() { build/ticketctl --dev token --user "$1" 2>/dev/null; }
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
pages() {
  echo "  waiting room:       $API/drops/demo   (sign in with any name: ticketd runs with --dev)"
  echo "  open drops:         $API/"
  echo "  operator dashboard: $API/admin   (\"Development sign-in (admin)\", or paste"
  echo "                      the token of: build/ticketctl --dev token --user ops --admin)"
  echo "  verifier:           $API/verify/demo   (after close and reveal)"
}

printf '\n\033[1mThe pages (in a browser on this machine)\033[0m\n'
pages
[[ "${KEEP:-0}" == 1 ]] || echo "  (this run stops ticketd at the end: KEEP=1 ops/demo.sh keeps it for the browser)"

say "curl $API/v1/campaigns/demo"
curl -s "$API/v1/campaigns/demo"; echo

say "30 users POST $API/v1/campaigns/demo/entries (each with its own JWT; 202 = durable)"
for i in $(seq -w 1 30); do
  curl -s -X POST -d '' -H "Authorization: Bearer $(token "fan-$i")" \
    "$API/v1/campaigns/demo/entries" >/dev/null
done
curl -s -X POST -d '' -H "Authorization: Bearer $(token fan-31)" "$API/v1/campaigns/demo/entries"; echo

T=$(token fan-31)
say "curl -H 'Authorization: Bearer <fan-31>' $API/v1/campaigns/demo/entries/me   (every 0.3 s)"
for _ in $(seq 40); do
  OUT=$(curl -s -H "Authorization: Bearer $T" "$API/v1/campaigns/demo/entries/me")
  echo "$OUT"
  case "$OUT" in *'"status":"queued"'*|*not_entered*) sleep 0.3 ;; *) break ;; esac
done

say "curl -X POST -H 'Prefer: wait=5' ... (a late user waits for the decision in one call)"
curl -s -X POST -d '' -H "Authorization: Bearer $(token late-fan)" -H 'Prefer: wait=5' \
  "$API/v1/campaigns/demo/entries"; echo

say "curl '$API/v1/campaigns/demo/results?outcome=won'"
curl -s "$API/v1/campaigns/demo/results?outcome=won"; echo
say "curl $API/v1/campaigns/demo"
curl -s "$API/v1/campaigns/demo"; echo
if [[ "${KEEP:-0}" == 1 ]]; then
  echo; echo "ticketd keeps running on $API (pid $PID, data in $DATA); stop it with: kill $PID"
  pages
fi
