#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running drop: installs the
# packages, builds, and runs ops/demo.sh (ticketd with a demo campaign, users
# entering and following the queue with curl).
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build
echo
echo "== a drop over HTTP: ticketd + curl (ops/demo.sh) =="
ops/demo.sh
