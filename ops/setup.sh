#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running drop: installs the
# packages, builds, and runs a simulated drop on the embedded log.
# Extra arguments go to `ticketctl simulate` (see `build/ticketctl simulate --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build
echo
echo "== a simulated drop: 100,000 users, stock 5,000, 5% win rate =="
build/ticketctl simulate --users 100000 --stock 5000 --win-bps 500 "$@"
