#!/usr/bin/env bash
# Installs every Debian package ticketledger needs to build, test and run.
# Idempotent: runs apt-get only for packages that are missing.
set -euo pipefail

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
  # the read models: client libraries, and the servers the tests start on
  # free ports in temporary directories (PostgreSQL under /usr/lib/postgresql/15/bin)
  libhiredis-dev libpqxx-dev redis-server postgresql-15
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
