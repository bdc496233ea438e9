// Every setting of ticketd in one struct, filled from flags, else TICKETD_*
// environment variables, else the TOML/INI file given with --config (CLI11
// reads all three; `ticketd --help` lists them). Secrets come from files or
// the environment (secrets.h) and are never printed.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "api/api.h"
#include "api/http/server.h"
#include "engine/core/names.h"
#include "engine/log/kafka/kafka_log.h"
#include "engine/runtime/node.h"
#include "engine/runtime/ticker.h"

namespace tl::app {

struct Settings {
  // all: api + engine in one process on the embedded log; api, engine,
  // projector: the split deployment over Kafka.
  std::string role = "all";
  NodeOptions node;               // data_dir, partitions, the seed secret
  bool partitions_given = false;  // the Kafka roles adopt the topics' count if not
  TickerOptions ticker;           // the engine's waiting-room ticker (all, engine)
  bool tick_ms_given = false;     // refused for roles api and projector
  http::ServerOptions server;
  api::ApiOptions api;  // the token secret among them
  size_t streams_memory_mb = 0;
  std::vector<std::string> cors_origins;

  KafkaLogOptions kafka;
  std::string commands_topic = KafkaTopic(kCommandsLog);
  std::string ledger_topic = KafkaTopic(kLedgerLog);
  std::string transactional_id = "ticketledger-engine";
  std::string engine_group = "ticketledger-engine";
  int session_timeout_ms = 10000;
  int append_timeout_ms = 10000;
  std::vector<std::string> kafka_properties;  // key=value, into kafka.properties

  std::string redis_url, redis_prefix = "tl:";
  std::string postgres_url, postgres_schema = "ticketledger";

  std::string jwt_secret_file, seed_secret_file;
  std::string pass_key_file;  // else $TICKETD_PASS_KEY; --dev: the development key
  std::string pass_issuer = "ticketledger";
  int64_t pass_ttl_s = 900;
  bool dev = false;   // development secrets when none are given
  bool demo = false;  // create campaign "demo" if missing

  std::string log_level = "info";
  bool access_log = false;

  Settings();
  bool kafka_role() const { return role != "all"; }
};

// Adds every setting to `app`, writing into `s` (which must outlive parsing).
void AddSettings(CLI::App* app, Settings* s);

// After parsing: what one flag alone cannot check (--role needs
// --kafka-brokers, key=value properties), derived values, and the secrets.
// INVALID_ARGUMENT or NOT_FOUND (a secret file): a usage error.
absl::Status FinishSettings(Settings* s);

}  // namespace tl::app
