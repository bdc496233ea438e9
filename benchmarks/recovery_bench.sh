#!/usr/bin/env bash
# Recovery benchmark (issue #12): a single-node engine recovering from a
# ledger of N entries (default 10,000,000; a 5% lottery, made once by
# `ticketctl simulate` into DIR and kept there) with no state store: every
# event is read, decoded, sequence-checked, folded and digested, and the
# state committed into a fresh store -- PartitionEngine::Recover, the path
# ticketd takes at start-up, run by `ticketctl replay`. Times it RUNS times
# (default 2) and prints wall, user and system seconds of each run.
# Usage: benchmarks/recovery_bench.sh [users] [dir] [runs]
set -euo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit 0
fi
cd "$(dirname "$0")/.."
USERS=${1:-10000000}
DIR=${2:-/tmp/ticketledger-recovery-$USERS}
RUNS=${3:-2}
if [[ ! -d "$DIR/log" ]]; then
  echo "== ledger: ticketctl simulate --users $USERS into $DIR =="
  build/ticketctl --dev simulate --data-dir "$DIR" --users "$USERS" --stock $((USERS / 20)) \
    --win-bps 500 --batch 4096 | grep -E "throughput|digest" || true
fi
for run in $(seq 1 "$RUNS"); do
  echo "== run $run: ticketctl replay (recovery into an empty state store) =="
  # replay exits 1 when the data dir's own state store is of another digest
  # version or not yet caught up; the timing stands either way. (--dev: the
  # simulation's development secret, which replay needs as simulate did.)
  /usr/bin/time -f "recovery: %e s wall, %U s user, %S s sys, %M KB peak" \
    build/ticketctl --dev --data-dir "$DIR" replay 2>&1 | grep -E "^replayed|^recovery" || true
done
