#!/usr/bin/env bash
# The whole test suite: installs what the tests need, builds the normal and
# the ASan+UBSan flavours, checks formatting, and runs every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
ops/install-deps.sh

echo "== format check (clang-format) =="
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build

# The sanitizer build (g++, ASan + UBSan) and the fuzz targets (clang,
# libFuzzer + ASan + UBSan: tests/fuzz/, a separate build of only the targets
# and what they link) are built niced in the background while the plain tests
# run: those mostly wait on servers, sockets and clocks, and the builds take
# the idle CPU, which keeps the whole run well under 30 min on 2 cores.
echo "== build (ASan + UBSan) and the fuzz targets (clang), in the background =="
(
  set -e
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTICKETLEDGER_SANITIZE=ON \
    -DTICKETLEDGER_BENCHMARKS=OFF
  nice -n 19 cmake --build build-asan --target core_tests log_tests runtime_tests crash_tests \
    audit_tests ticketctl ticketctl_cli_tests sim_tests
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DTICKETLEDGER_FUZZ=ON -DTICKETLEDGER_BENCHMARKS=OFF -DTL_FUZZ_SECONDS=8
  nice -n 19 cmake --build build-fuzz --target fuzz_targets
) > build/sanitizer-builds.log 2>&1 &
builds=$!

echo "== tests (RelWithDebInfo) =="
tests=0
ctest --test-dir build --output-on-failure -j2 || tests=$?
echo "== waiting for the ASan + UBSan and fuzz builds =="
if ! wait "$builds"; then
  tail -n 100 build/sanitizer-builds.log
  echo "the ASan + UBSan or the fuzz build failed (build/sanitizer-builds.log)"
  exit 1
fi
tail -n 2 build/sanitizer-builds.log
if [ "$tests" -ne 0 ]; then exit "$tests"; fi

echo "== engine tests (ASan + UBSan) =="
# The simulator runs 1,000 seeds in the plain build and 300 here (Debug + ASan
# is ~10x slower).
TL_SIM_SEEDS=300 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -L "engine|cli" --output-on-failure -j2

# Each libFuzzer target runs for TL_FUZZ_SECONDS (8 here) on its committed corpus.
echo "== fuzz (libFuzzer, clang, ASan + UBSan) =="
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j2
