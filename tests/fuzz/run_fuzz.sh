#!/usr/bin/env bash
# run_fuzz.sh BINARY NAME SECONDS WORKDIR: runs the fuzz target BINARY for
# SECONDS over its committed corpus tests/fuzz/corpus/NAME (read only: inputs
# it finds go to WORKDIR/NAME), with tests/fuzz/dict/NAME.dict if there is one.
# Exits non-zero on a crash, leak, timeout, out-of-memory or sanitizer report
# (the input is then WORKDIR/NAME-crash-*, to add to the corpus once fixed).
set -euo pipefail
bin=$1 name=$2 secs=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work/$name"
args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
  -artifact_prefix="$work/$name-")
if [[ -f $here/dict/$name.dict ]]; then args+=(-dict="$here/dict/$name.dict"); fi
exec "$bin" "${args[@]}" "$work/$name" "$here/corpus/$name"
