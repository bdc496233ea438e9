#!/usr/bin/env bash
# Installs every Debian package ticketledger needs to build, test and run,
# then the pages' npm packages (api/web/package-lock.json) into
# api/web/node_modules. Idempotent: runs apt-get only for packages that are
# missing, and npm only when node_modules is missing or older than the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # toolchain
  g++ cmake ninja-build pkg-config clang-format git
  # core libraries (the design card's list)
  protobuf-compiler libprotobuf-dev libabsl-dev librocksdb-dev librdkafka-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # helpers: HMAC/SHA-256, record checksums, the CLI, HTTP and JSON
  libssl-dev zlib1g-dev libcli11-dev libcpp-httplib-dev nlohmann-json3-dev
  # metrics: prometheus-cpp's registry and text format; promtool (package
  # prometheus) checks the /metrics pages in the tests
  prometheus-cpp-dev prometheus
  # logs (timestamp, level, component)
  libspdlog-dev
  # the event-driven HTTP server and the load generator (Boost.Asio + Beast)
  libboost1.81-dev
  # the demo and the HTTP benchmark (nginx for FRONT=nginx); kcat reads the
  # Kafka topics as the README shows
  curl wrk nginx-light kcat
  # tests: regenerating draw vectors independently
  openssl bc
  # fuzzing (tests/fuzz/): clang with libFuzzer and the sanitizers' runtimes
  clang libclang-rt-14-dev
  # the read models: client libraries, and the servers the tests start on
  # free ports in temporary directories (PostgreSQL under /usr/lib/postgresql/15/bin)
  libhiredis-dev libpqxx-dev redis-server postgresql-15
  # the pages' browser tests: Debian's chromium, driven by puppeteer-core (npm),
  # and a font with Hangul so the Korean pages render as text, not boxes
  chromium fonts-noto-cjk
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js runs the browser tests and npm installs the pages' packages: Debian's
# unless a node is already on the PATH.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  for p in nodejs npm; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
fi
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The pages' npm packages (uPlot, embedded into ticketd at build time;
# puppeteer-core for the browser tests), exactly as the lock file pins them.
if [[ ! -d api/web/node_modules || api/web/package-lock.json -nt api/web/node_modules ]]; then
  echo "install-deps: npm ci --prefix api/web (the pages' packages from api/web/package-lock.json)"
  npm ci --prefix api/web --no-audit --no-fund
  touch api/web/node_modules
else
  echo "install-deps: api/web/node_modules is up to date with its lock file"
fi
