// ticketd's configuration and store URLs (ops/app/settings.h,
// projections/redis/redis_sink.h). The first byte picks what the rest is:
//   0 a --config file (TOML/INI), read by CLI11 as ticketd reads it, then
//     FinishSettings: a refusal is CLI::ParseError or an INVALID_ARGUMENT
//     Status (what ticketd prints before exiting with its usage code), never
//     a crash or another exception;
//   1 a Redis URL: refused with INVALID_ARGUMENT, or options whose URL,
//     written back, parses to the same options;
//   2 a PostgreSQL connection string or URI, which ticketd hands to libpq:
//     libpq's own parser (PQconninfoParse) refuses it or reads it.
// Secret files are not read (the file names in a fuzzed config are cleared;
// --dev supplies development secrets), so no file outside the input is read.
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "fuzz_check.h"
#include "ops/app/cli.h"
#include "ops/app/secrets.h"
#include "ops/app/settings.h"
#include "projections/redis/redis_sink.h"

namespace {

// One command line for every input (building CLI11's ~60 options costs more
// than parsing): its results are cleared and the settings reset to their
// defaults before each input.
struct CommandLine {
  CommandLine() {
    tl::app::SetUpCommandLine(&app, "ticketd", /*config=*/true);
    tl::app::AddSettings(&app, &settings);
  }
  CLI::App app;
  tl::app::Settings settings;
};

void Config(const std::string& text) {
  static CommandLine* cli = new CommandLine;
  cli->app.clear();
  cli->settings = tl::app::Settings();
  tl::app::Settings& s = cli->settings;
  std::istringstream in(text);
  try {
    cli->app.parse_from_stream(in);
  } catch (const CLI::ParseError&) {
    return;  // ticketd prints it and exits with its usage code
  }
  s.jwt_secret_file.clear();
  s.seed_secret_file.clear();
  s.pass_key_file.clear();
  s.dev = true;
  absl::Status st = tl::app::FinishSettings(&s);
  FUZZ_CHECK(st.ok() || absl::IsInvalidArgument(st));
  if (!st.ok()) return;
  FUZZ_CHECK(s.api.jwt_secret.size() >= tl::app::kSecretBytesMin);
  FUZZ_CHECK(s.role == "all" || !s.kafka.brokers.empty());
}

void RedisUrl(const std::string& url) {
  absl::StatusOr<tl::proj::RedisOptions> o = tl::proj::ParseRedisUrl(url);
  if (!o.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(o.status()));
    return;
  }
  FUZZ_CHECK(o->port > 0 && o->port <= 65535 && o->db >= 0 && !o->host.empty());
  const bool bracket = o->host.find(':') != std::string::npos;
  const std::string again =
      absl::StrCat("redis://", o->password.empty() ? "" : absl::StrCat(":", o->password, "@"),
                   bracket ? "[" : "", o->host, bracket ? "]" : "", ":", o->port, "/", o->db);
  absl::StatusOr<tl::proj::RedisOptions> back = tl::proj::ParseRedisUrl(again);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->host == o->host && back->port == o->port && back->db == o->db &&
             back->password == o->password);
}

void PostgresUrl(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  FUZZ_CHECK((options == nullptr) != (error == nullptr) || (options == nullptr && !error));
  if (options != nullptr) PQconninfoFree(options);
  if (error != nullptr) PQfreemem(error);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // "--dev: using development secrets", each time
  unsetenv("REDIS_PASSWORD");             // the URL alone decides
  for (const char* v : {"TICKETD_JWT_SECRET", "TICKETLEDGER_SEED_SECRET", "TICKETD_PASS_KEY"})
    unsetenv(v);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      Config(rest);
      break;
    case 1:
      RedisUrl(rest);
      break;
    case 2:
      if (rest.find('\0') == std::string::npos) PostgresUrl(rest);
      break;
  }
  return 0;
}
