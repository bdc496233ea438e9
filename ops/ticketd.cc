// ticketd: the ticketledger daemon. Roles: `all` (the default: HTTP api +
// engine on the embedded log in one process), and for a split deployment over
// Kafka `api` (HTTP, commands to Kafka, reads folded from the ledger),
// `engine` (a consumer-group member deciding the partitions it is given) and
// `projector` (folds the ledger into the read models).
//
// Settings come from flags, else TICKETD_* environment variables, else a
// TOML/INI file given with --config; `ticketd --help` lists them all. Secrets
// are read from files or the environment and never printed.
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/api.h"
#include "api/http/server.h"
#include "api/ops_routes.h"
#include "engine/core/fold.h"
#include "engine/log/kafka/kafka_log.h"
#include "engine/runtime/engine_group.h"
#include "engine/runtime/ledger_follower.h"
#include "engine/runtime/node.h"
#include "ops/secrets.h"
#include "projections/postgres/pg_sink.h"
#include "projections/projector.h"
#include "projections/read_model.h"
#include "projections/redis/redis_sink.h"

int main(int argc, char** argv) {
  CLI::App app{"ticketd: the ticketledger daemon (HTTP api + deterministic engine + embedded log)"};
  app.set_config("--config", "", "TOML/INI file with any of the settings below");
  std::string role = "all";
  tl::NodeOptions node_options;
  node_options.data_dir = "./ticketledger-data";
  tl::http::ServerOptions server;
  tl::api::ApiOptions api;
  std::string jwt_secret_file, seed_secret_file;
  std::string redis_url, postgres_url, redis_prefix = "tl:", postgres_schema = "ticketledger";
  bool dev = false, demo = false;
  app.add_option("--role", role,
                 "all: api + engine in one process on the embedded log; engine: decides the "
                 "command partitions its consumer group gives it into the Kafka ledger; api: "
                 "HTTP, commands to Kafka, reads folded from the Kafka ledger; projector: folds "
                 "the Kafka ledger into the read models")
      ->envname("TICKETD_ROLE")
      ->capture_default_str()
      ->check(CLI::IsMember({"all", "engine", "api", "projector"}));
  tl::KafkaLogOptions kafka;
  std::string commands_topic = "ticketledger.commands", ledger_topic = "ticketledger.ledger";
  std::string transactional_id = "ticketledger-engine";
  std::vector<std::string> kafka_properties;
  app.add_option("--kafka-brokers", kafka.brokers, "Kafka bootstrap servers (roles engine, api)")
      ->envname("TICKETD_KAFKA_BROKERS");
  app.add_option("--kafka-commands-topic", commands_topic, "Commands topic")
      ->envname("TICKETD_KAFKA_COMMANDS_TOPIC")
      ->capture_default_str();
  app.add_option("--kafka-ledger-topic", ledger_topic, "Ledger topic")
      ->envname("TICKETD_KAFKA_LEDGER_TOPIC")
      ->capture_default_str();
  app.add_option("--kafka-replication-factor", kafka.replication_factor,
                 "Replication factor for topics ticketd creates (-1 = the brokers' default)")
      ->envname("TICKETD_KAFKA_REPLICATION_FACTOR")
      ->capture_default_str();
  app.add_option("--kafka-transactional-id", transactional_id,
                 "Prefix of the engine's transactional.ids: partition N writes as <prefix>-pN, "
                 "so the engine taking a partition over fences its previous writer")
      ->envname("TICKETD_KAFKA_TRANSACTIONAL_ID")
      ->capture_default_str();
  std::string engine_group = "ticketledger-engine";
  app.add_option("--kafka-group", engine_group,
                 "Consumer group of the engines: it hands each engine its partitions")
      ->envname("TICKETD_KAFKA_GROUP")
      ->capture_default_str();
  int session_timeout_ms = 10000;
  app.add_option("--kafka-session-timeout-ms", session_timeout_ms,
                 "How long the engines' group waits for a silent engine before giving its "
                 "partitions to the others")
      ->envname("TICKETD_KAFKA_SESSION_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(1000, 3600000));
  int append_timeout_ms = 10000;
  app.add_option("--kafka-timeout-ms", append_timeout_ms,
                 "Longest a Kafka append, read or metadata call waits before failing (the api "
                 "answers 503)")
      ->envname("TICKETD_KAFKA_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app.add_option("--kafka-property", kafka_properties,
                 "librdkafka property key=value, repeatable (security.protocol, sasl.*, ssl.*)");
  app.add_option("--data-dir", node_options.data_dir, "Data directory (log/ and state/)")
      ->envname("TICKETD_DATA_DIR")
      ->capture_default_str();
  auto* partitions_opt = app.add_option("--partitions", node_options.partitions,
                                        "Log partitions (fixed at creation; the Kafka roles adopt "
                                        "the topics' count if not given)")
                             ->envname("TICKETD_PARTITIONS")
                             ->capture_default_str()
                             ->check(CLI::Range(1, 1024));
  app.add_option("--host", server.host, "Listen address")
      ->envname("TICKETD_HOST")
      ->capture_default_str();
  app.add_option("--port", server.port, "Listen port (0 = any free port, printed at start)")
      ->envname("TICKETD_PORT")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--io-threads", server.io_threads,
                 "HTTP event loops (0 = one per core); no request holds one while it waits")
      ->envname("TICKETD_IO_THREADS")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  app.add_option("--listen-backlog", server.listen_backlog,
                 "TCP accept queue (capped by net.core.somaxconn)")
      ->envname("TICKETD_LISTEN_BACKLOG")
      ->capture_default_str();
  app.add_option("--header-bytes-max", server.header_bytes_max,
                 "Largest request line + headers (else 431)")
      ->envname("TICKETD_HEADER_BYTES_MAX")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1024}, size_t{1} << 20));
  app.add_option("--header-count-max", server.header_count_max,
                 "Most headers a request may have (else 431)")
      ->envname("TICKETD_HEADER_COUNT_MAX")
      ->capture_default_str()
      ->check(CLI::Range(size_t{8}, size_t{10000}));
  app.add_option("--body-bytes-max", server.body_bytes_max,
                 "Largest request body, also when chunked (else 413 as soon as it passes)")
      ->envname("TICKETD_BODY_BYTES_MAX")
      ->capture_default_str()
      ->check(CLI::Range(size_t{64}, size_t{64} << 20));
  app.add_option("--header-timeout-ms", server.header_timeout_ms,
                 "From a request's first byte to its last header (slow headers are closed)")
      ->envname("TICKETD_HEADER_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app.add_option("--request-timeout-ms", server.request_timeout_ms,
                 "From a request's first byte to its last body byte")
      ->envname("TICKETD_REQUEST_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app.add_option("--idle-timeout-s", server.idle_timeout_s,
                 "How long a keep-alive connection may wait for its next request")
      ->envname("TICKETD_IDLE_TIMEOUT_S")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--write-timeout-s", server.write_timeout_s,
                 "Longest a response or live-stream write may take (slow readers are dropped)")
      ->envname("TICKETD_WRITE_TIMEOUT_S")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--requests-per-conn-max", server.requests_per_connection_max,
                 "Requests on one keep-alive connection before it is closed")
      ->envname("TICKETD_REQUESTS_PER_CONN_MAX")
      ->capture_default_str();
  app.add_option("--conns-max", server.connections_max,
                 "Open connections in total (0 = the open-file limit less 512)")
      ->envname("TICKETD_CONNS_MAX")
      ->capture_default_str();
  app.add_option("--conns-per-address-max", server.connections_per_address_max,
                 "Open connections from one client address (else 429 and close)")
      ->envname("TICKETD_CONNS_PER_ADDRESS_MAX")
      ->capture_default_str();
  app.add_option("--streams-per-user-max", api.live.streams_per_user_max,
                 "Live streams (SSE, WebSocket) one user may hold (else 429)")
      ->envname("TICKETD_STREAMS_PER_USER_MAX")
      ->capture_default_str();
  app.add_option("--streams-per-address-max", api.live.streams_per_address_max,
                 "Live streams one client address may hold (else 429)")
      ->envname("TICKETD_STREAMS_PER_ADDRESS_MAX")
      ->capture_default_str();
  size_t streams_memory_mb = api.live.streams_memory_bytes >> 20;
  app.add_option("--streams-memory-mb", streams_memory_mb,
                 "Memory for live streams; at 16 KiB a stream this bounds them in total (else 503)")
      ->envname("TICKETD_STREAMS_MEMORY_MB")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  app.add_option("--live-interval-ms", api.live.interval_ms,
                 "A campaign's watchers get at most one message per interval (coalescing)")
      ->envname("TICKETD_LIVE_INTERVAL_MS")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  app.add_option("--live-messages-per-s-max", api.live.messages_per_s_max,
                 "Live messages a second for all watchers together; a bigger crowd gets its "
                 "updates less often than --live-interval-ms")
      ->envname("TICKETD_LIVE_MESSAGES_PER_S_MAX")
      ->capture_default_str()
      ->check(CLI::Range(size_t{100}, size_t{10'000'000}));
  app.add_option("--stream-max-s", api.live.stream_max_s,
                 "A live stream ends after this long; clients reconnect (Last-Event-ID)")
      ->envname("TICKETD_STREAM_MAX_S")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app.add_option("--stream-ticket-ttl-s", api.stream_ticket_ttl_s,
                 "Life of a stream ticket (how browsers open the live channel)")
      ->envname("TICKETD_STREAM_TICKET_TTL_S")
      ->capture_default_str()
      ->check(CLI::Range(5, 86400));
  std::vector<std::string> cors_origins;
  app.add_option("--cors-origin", cors_origins,
                 "An origin browsers may call from (repeatable, exact, e.g. https://shop.example); "
                 "none by default")
      ->envname("TICKETD_CORS_ORIGINS")
      ->delimiter(',');
  app.add_option("--append-queue-max", api.append_queue_max,
                 "Commands waiting to be stored before new ones get 503")
      ->envname("TICKETD_APPEND_QUEUE_MAX")
      ->capture_default_str();
  uint64_t tick_ms = 100;
  auto* tick_opt = app.add_option("--tick-ms", tick_ms,
                                  "Waiting-room tick interval of the engine, which ticks the "
                                  "partitions it owns (roles all and engine; 0 = no ticks)")
                       ->envname("TICKETD_TICK_MS")
                       ->capture_default_str();
  app.add_option("--wait-s-max", api.wait_s_max, "Cap for the Prefer: wait=N header")
      ->envname("TICKETD_WAIT_S_MAX")
      ->capture_default_str()
      ->check(CLI::Range(0, 60));
  app.add_option("--user-rate", api.user_rate_per_s, "Requests/s per user (token bucket; 0 = off)")
      ->envname("TICKETD_USER_RATE")
      ->capture_default_str();
  app.add_option("--user-burst", api.user_burst, "Burst per user")
      ->envname("TICKETD_USER_BURST")
      ->capture_default_str();
  app.add_option("--ip-rate", api.ip_rate_per_s, "Requests/s per client address (0 = off)")
      ->envname("TICKETD_IP_RATE")
      ->capture_default_str();
  app.add_option("--ip-burst", api.ip_burst, "Burst per client address")
      ->envname("TICKETD_IP_BURST")
      ->capture_default_str();
  app.add_flag("--trust-forwarded-for", api.trust_forwarded_for,
               "Take the client address from X-Forwarded-For (only behind a proxy that sets it)")
      ->envname("TICKETD_TRUST_FORWARDED_FOR");
  app.add_option("--idempotency-keys-max", api.idempotency_keys_max, "Idempotency keys remembered")
      ->envname("TICKETD_IDEMPOTENCY_KEYS_MAX")
      ->capture_default_str();
  app.add_option("--redis-url", redis_url,
                 "Redis read model: redis://[:password@]host[:port][/db]. Roles all and projector "
                 "write it, roles all and api read entries and rankings from it (password also "
                 "from $REDIS_PASSWORD)")
      ->envname("TICKETD_REDIS_URL");
  app.add_option("--redis-prefix", redis_prefix, "Prefix of every Redis key ticketledger writes")
      ->envname("TICKETD_REDIS_PREFIX")
      ->capture_default_str();
  app.add_option("--postgres-url", postgres_url,
                 "PostgreSQL read model: a libpq URI or connection string. Roles all and "
                 "projector write it, roles all and api read results from it (password also from "
                 "$PGPASSWORD)")
      ->envname("TICKETD_POSTGRES_URL");
  app.add_option("--postgres-schema", postgres_schema, "Schema of the PostgreSQL read model")
      ->envname("TICKETD_POSTGRES_SCHEMA")
      ->capture_default_str();
  app.add_option("--jwt-secret-file", jwt_secret_file,
                 "File with the HS256 token secret (else $TICKETD_JWT_SECRET)");
  app.add_option("--seed-secret-file", seed_secret_file,
                 "File with the draw seed secret (else $TICKETLEDGER_SEED_SECRET)");
  app.add_flag("--dev", dev, "Use development secrets when none are given (never in production)")
      ->envname("TICKETD_DEV");
  app.add_flag("--demo", demo,
               "Create campaign 'demo' (stock 10, 50% win, 20 admitted/s) if missing")
      ->envname("TICKETD_DEMO");
  CLI11_PARSE(app, argc, argv);
  if (tick_opt->count() > 0 && role != "all" && role != "engine") {
    std::fprintf(stderr,
                 "ticketd: --tick-ms (TICKETD_TICK_MS) is not an option of role %s: the "
                 "waiting-room ticker runs in the engine (roles all and engine), which ticks the "
                 "partitions it owns\n",
                 role.c_str());
    return 2;
  }
  // The engine's waiting-room ticker (roles all and engine).
  tl::TickerOptions ticker;
  ticker.tick_ms = tick_ms;

  absl::StatusOr<std::string> jwt = tl::ReadSecret(jwt_secret_file, "TICKETD_JWT_SECRET");
  absl::StatusOr<std::string> seed = tl::ReadSecret(seed_secret_file, "TICKETLEDGER_SEED_SECRET");
  if (!jwt.ok() || !seed.ok()) {
    std::fprintf(stderr, "ticketd: %s\n",
                 std::string((jwt.ok() ? seed.status() : jwt.status()).message()).c_str());
    return 2;
  }
  api.jwt_secret = *jwt;
  node_options.config.seed_secret = *seed;
  if (role == "engine" || role == "projector") api.jwt_secret = tl::kDevJwtSecret;  // no HTTP api
  if (role == "api" || role == "projector")
    node_options.config.seed_secret = tl::kDevSeedSecret;  // never used: they do not decide
  if (api.jwt_secret.empty() || node_options.config.seed_secret.empty()) {
    if (!dev) {
      std::fprintf(stderr,
                   "ticketd: no secrets: set TICKETD_JWT_SECRET and TICKETLEDGER_SEED_SECRET (or "
                   "the --*-secret-file flags), or pass --dev for development secrets\n");
      return 2;
    }
    if (api.jwt_secret.empty()) api.jwt_secret = tl::kDevJwtSecret;
    if (node_options.config.seed_secret.empty())
      node_options.config.seed_secret = tl::kDevSeedSecret;
    std::fprintf(stderr, "ticketd: --dev: using development secrets\n");
  }
  if (api.jwt_secret.size() < 16 || node_options.config.seed_secret.size() < 16) {
    std::fprintf(stderr, "ticketd: secrets must be at least 16 bytes\n");
    return 2;
  }
  api.live.streams_memory_bytes = streams_memory_mb << 20;

  // Signals are taken by one thread with sigwait; block them everywhere first.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Every connection is a file: take the whole hard limit.
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  kafka.partitions = partitions_opt->count() > 0 ? node_options.partitions : 0;
  for (const std::string& kv : kafka_properties) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "ticketd: --kafka-property wants key=value, got '%s'\n", kv.c_str());
      return 2;
    }
    kafka.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (role != "all" && kafka.brokers.empty()) {
    std::fprintf(stderr, "ticketd: --role %s needs --kafka-brokers\n", role.c_str());
    return 2;
  }
  auto fail = [](const absl::Status& st) {
    std::fprintf(stderr, "ticketd: %s\n", std::string(st.message()).c_str());
    return 1;
  };

  // The pieces each role runs.
  std::unique_ptr<tl::Node> node;                  // all
  std::unique_ptr<tl::KafkaLog> commands, ledger;  // engine, api, projector
  std::unique_ptr<tl::StateStore> store;           // engine
  std::unique_ptr<tl::EngineGroup> engine_member;  // engine
  std::unique_ptr<tl::LedgerFollower> follower;    // api, projector
  std::unique_ptr<tl::api::ApiBackend> backend;    // all, api
  // One metrics registry for the whole process, every role.
  tl::api::Metrics metrics;
  metrics.Declare("ticketledger_kafka_produce_errors_total", "counter",
                  "Kafka appends that failed (produce, delivery or transaction errors)");
  if (role == "all" || role == "engine") {
    metrics.Declare("ticketledger_ticks_total", "counter",
                    "Tick commands the engine's ticker appended");
    ticker.on_appended = [&metrics](uint64_t n) {
      metrics.Add("ticketledger_ticks_total", {}, static_cast<double>(n));
    };
  }
  if (role != "all") {
    kafka.timeout = absl::Milliseconds(append_timeout_ms);
    kafka.on_append_error = [&metrics](const absl::Status&) {
      metrics.Add("ticketledger_kafka_produce_errors_total", {});
    };
    tl::KafkaLogOptions c = kafka, l = kafka;
    c.topic = commands_topic;
    c.content_type = "application/x-protobuf; messageType=ticketledger.v1.Command";
    l.topic = ledger_topic;
    l.content_type = "application/x-protobuf; messageType=ticketledger.v1.Event";
    auto cl = tl::KafkaLog::Open(c);
    if (!cl.ok()) return fail(cl.status());
    auto ll = tl::KafkaLog::Open(l);  // creates the topic if missing; the engine writes through
    if (!ll.ok()) return fail(ll.status());  // per-partition transactional producers
    commands = std::move(*cl);
    ledger = std::move(*ll);
    if (commands->partitions() != ledger->partitions())
      return fail(
          absl::FailedPreconditionError("the commands and ledger topics differ in partitions"));
    node_options.partitions = commands->partitions();
    if (role == "engine") {
      metrics.Declare("ticketledger_kafka_transaction_commit_seconds", "histogram",
                      "Time to commit one ledger transaction (one engine step)");
      metrics.Declare("ticketledger_kafka_rebalances_total", "counter",
                      "Consumer-group rebalances this engine went through");
      metrics.Declare("ticketledger_kafka_consumer_lag", "gauge",
                      "Commands not yet decided, per partition this engine owns");
      metrics.Declare("ticketledger_engine_partitions_owned", "gauge",
                      "Command partitions the group gives this engine");
      std::error_code ec;
      std::filesystem::create_directories(node_options.data_dir, ec);
      auto opened = tl::StateStore::Open(node_options.data_dir + "/state");
      if (!opened.ok()) return fail(opened.status());
      store = std::move(*opened);
      tl::EngineGroupOptions go;
      go.ledger = l;
      go.ledger.transactional_id = transactional_id;
      go.ledger.on_transaction_committed = [&metrics](absl::Duration d) {
        metrics.Observe("ticketledger_kafka_transaction_commit_seconds", {},
                        absl::ToDoubleSeconds(d));
      };
      go.group_id = engine_group;
      go.session_timeout_ms = session_timeout_ms;
      go.config = node_options.config;
      go.limits = node_options.limits;
      go.ticker = ticker;
      engine_member =
          std::make_unique<tl::EngineGroup>(commands.get(), commands_topic, store.get(), go);
      if (absl::Status st = engine_member->Start(); !st.ok()) return fail(st);
    } else {
      // api and projector never decide, so they need no seed secret: they
      // learn each seed from the ledger when it is revealed.
      follower = std::make_unique<tl::LedgerFollower>(ledger.get(), tl::EngineConfig{},
                                                      node_options.limits);
    }
  }
  if (role == "all") {
    auto opened = tl::Node::Open(node_options);
    if (!opened.ok()) return fail(opened.status());
    node = std::move(*opened);
    backend = std::make_unique<tl::api::NodeBackend>(node.get());
  } else if (role == "api") {
    backend = std::make_unique<tl::api::SplitBackend>(commands.get(), ledger.get(), follower.get(),
                                                      node_options.limits);
  }

  // The read models: one projector per configured store, following the
  // ledger on its own (checkpoint inside the store).
  std::vector<std::unique_ptr<tl::proj::Sink>> sinks;
  std::vector<std::unique_ptr<tl::proj::Projector>> projectors;
  if (role == "all" || role == "projector") {
    tl::EventLog* read_ledger = ledger.get();
    if (node) read_ledger = node->log().ledger();
    if (!redis_url.empty()) {
      absl::StatusOr<tl::proj::RedisOptions> ro = tl::proj::ParseRedisUrl(redis_url);
      if (!ro.ok()) return fail(ro.status());
      ro->prefix = redis_prefix;
      sinks.push_back(std::make_unique<tl::proj::RedisSink>(*ro));
    }
    if (!postgres_url.empty()) {
      tl::proj::PgOptions po{postgres_url, postgres_schema};
      auto pg = std::make_unique<tl::proj::PgSink>(po);
      // Migrations at start; a store that is down now is retried by the
      // projector, so only a refused migration stops the start.
      if (absl::Status st = pg->Migrate(postgres_schema); !st.ok() && !absl::IsUnavailable(st))
        return fail(st);
      sinks.push_back(std::move(pg));
    }
    for (auto& sink : sinks) {
      projectors.push_back(std::make_unique<tl::proj::Projector>(read_ledger, sink.get()));
      projectors.back()->Start();
    }
  }
  metrics.Declare("ticketledger_projection_lag_records", "gauge",
                  "Ledger records not yet in the store, per store and partition");
  metrics.Declare("ticketledger_projection_store_errors_total", "counter",
                  "Store errors the projector retried, per store");
  metrics.Declare("ticketledger_projection_up", "gauge", "1 if the store is taking writes");
  auto projection_metrics = [&] {
    for (auto& pr : projectors) {
      auto parts = pr->Status();
      uint64_t failures = 0;
      for (size_t p = 0; p < parts.size(); ++p) {
        metrics.Set("ticketledger_projection_lag_records",
                    {{"store", pr->sink_name()}, {"partition", std::to_string(p)}},
                    static_cast<double>(parts[p].ledger_end > parts[p].applied_offset
                                            ? parts[p].ledger_end - parts[p].applied_offset
                                            : 0));
        failures += parts[p].failures;
      }
      metrics.Set("ticketledger_projection_store_errors_total", {{"store", pr->sink_name()}},
                  static_cast<double>(failures));
      metrics.Set("ticketledger_projection_up", {{"store", pr->sink_name()}},
                  pr->status().ok() ? 1 : 0);
    }
  };
  auto projection_status = [&]() -> absl::Status {
    for (auto& pr : projectors) {
      if (absl::Status st = pr->status(); !st.ok()) return st;
    }
    return absl::OkStatus();
  };

  // Blocking work (store reads, Kafka metadata) runs here, off the event loops.
  boost::asio::thread_pool blocking(4);
  tl::api::Offload offload = [&blocking](std::function<void()> fn) {
    boost::asio::post(blocking, std::move(fn));
  };
  tl::api::Router router;
  tl::api::OpsHooks ops;
  // The api reads entries, rankings and results from the read models when
  // they are configured and caught up (roles all and api).
  std::unique_ptr<tl::proj::StoreReadModel> read_model;
  std::unique_ptr<tl::api::Api> service;
  if (backend) {
    if (!redis_url.empty() || !postgres_url.empty()) {
      std::optional<tl::proj::RedisOptions> ro;
      std::optional<tl::proj::PgOptions> po;
      if (!redis_url.empty()) {
        absl::StatusOr<tl::proj::RedisOptions> parsed = tl::proj::ParseRedisUrl(redis_url);
        if (!parsed.ok()) return fail(parsed.status());
        parsed->prefix = redis_prefix;
        ro = *parsed;
      }
      if (!postgres_url.empty()) po = tl::proj::PgOptions{postgres_url, postgres_schema};
      read_model = std::make_unique<tl::proj::StoreReadModel>(ro, po);
      api.read_model = read_model.get();
    }
    api.offload = offload;
    // Before the engine or follower starts: the api hooks their progress.
    service = std::make_unique<tl::api::Api>(backend.get(), api, &metrics);
    service->Register(&router);
    ops.ready = [&] { return service->Ready(); };
    ops.read_models = projection_status;
    ops.refresh_metrics = [&] {
      service->RefreshMetrics();
      projection_metrics();
    };
  } else if (engine_member) {
    ops.ready = [&] { return engine_member->status(); };
    ops.refresh_metrics = [&] {
      auto owned = engine_member->Owned();
      metrics.Set("ticketledger_engine_partitions_owned", {}, static_cast<double>(owned.size()));
      metrics.Set("ticketledger_kafka_rebalances_total", {},
                  static_cast<double>(engine_member->rebalances()));
      for (const auto& o : owned) {
        absl::StatusOr<uint64_t> end = commands->EndOffset(o.partition);
        if (end.ok())
          metrics.Set("ticketledger_kafka_consumer_lag",
                      {{"partition", std::to_string(o.partition)}},
                      static_cast<double>(*end > o.decided_end ? *end - o.decided_end : 0));
      }
    };
  } else {  // projector
    metrics.Declare("ticketledger_projector_lag_records", "gauge",
                    "Ledger records not yet folded, per partition");
    metrics.Declare("ticketledger_projector_events_total", "counter",
                    "Ledger events folded, per partition");
    ops.ready = [&] {
      absl::Status st = follower->status();
      return st.ok() ? projection_status() : st;
    };
    ops.refresh_metrics = [&] {
      for (int p = 0; p < follower->partitions(); ++p) {
        tl::api::Labels part = {{"partition", std::to_string(p)}};
        metrics.Set("ticketledger_projector_lag_records", part,
                    static_cast<double>(follower->lag(p)));
        follower->WithState(p, [&](const tl::EngineState& s, uint64_t) {
          metrics.Set("ticketledger_projector_events_total", part,
                      static_cast<double>(s.next_sequence - 1));
        });
      }
      projection_metrics();
    };
    // The fold this projector reached: per partition the events folded and
    // the digest chain, and the combined digest (compare with `ticketctl
    // replay` or another deployment).
    ops.projection = [&] {
      nlohmann::json parts = nlohmann::json::array();
      std::vector<tl::Hash> digests;
      for (int p = 0; p < follower->partitions(); ++p) {
        follower->WithState(p, [&](const tl::EngineState& s, uint64_t decided_end) {
          digests.push_back(s.digest);
          parts.push_back({{"partition", p},
                           {"events", s.next_sequence - 1},
                           {"commands_answered", decided_end},
                           {"digest", tl::ToHex(s.digest)}});
        });
      }
      return nlohmann::json{{"partitions", parts},
                            {"digest", tl::ToHex(tl::CombinedDigest(digests))}};
    };
  }
  tl::api::RegisterOpsRoutes(&router, &metrics, ops, offload);
  if (node) {
    node->engine().set_ticker(ticker);
    node->engine().Start();
  }
  if (follower) follower->Start();

  tl::api::CorsPolicy cors;
  cors.origins.insert(cors_origins.begin(), cors_origins.end());
  auto http = std::make_unique<tl::http::Server>(server, router.Handler(&metrics, cors), &metrics);
  absl::StatusOr<int> port = http->Listen();
  if (!port.ok()) return fail(port.status());
  if (demo && backend) {
    tl::pb::Command create;
    create.set_campaign_id("demo");
    create.set_time_ms(static_cast<uint64_t>(absl::ToUnixMillis(absl::Now())));
    auto* c = create.mutable_create_campaign();
    c->set_title("Demo drop");
    c->set_stock(10);
    c->set_win_bps(5000);
    c->set_admission_rate_per_s(20);
    bool exists = false;
    backend->WithState(
        tl::PartitionFor("demo", node_options.partitions),
        [&](const tl::EngineState& s, uint64_t) { exists = s.Find("demo") != nullptr; });
    if (!exists && !backend->Submit(create).ok()) {
      std::fprintf(stderr, "ticketd: could not create the demo campaign\n");
      return 1;
    }
  }
  if (service) service->Start();
  http->Start();
  std::printf("ticketd listening on %s:%d (role %s, %s, %d event loops, %zu connections max)\n",
              server.host.c_str(), *port, role.c_str(),
              role == "all" ? ("data dir " + node_options.data_dir).c_str()
                            : ("kafka " + kafka.brokers).c_str(),
              http->options().io_threads, http->options().connections_max);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "ticketd: %s: no new connections; draining\n", strsignal(sig));
  // The api first, while the server runs: it stores and answers what is
  // queued and lets go of the streams. Then the server; its connections end
  // (closing streams tell the api's hub, so the api goes after it).
  if (service) service->Stop();
  blocking.join();  // answers computed off the loops reach them before they stop
  http->Stop();
  http.reset();
  absl::Status st;
  if (node) {
    // Everything acknowledged is already durable in the commands log; let the
    // engine decide it before stopping so a restart has nothing to catch up.
    tl::Engine& engine = node->engine();
    for (int p = 0; p < engine.partitions(); ++p) {
      absl::StatusOr<uint64_t> end = node->log().commands()->EndOffset(p);
      if (end.ok()) (void)engine.WaitForCommands(p, *end, absl::Seconds(30));
    }
    engine.Stop();
    st = engine.status();
  }
  if (engine_member) {
    st = engine_member->status();
    engine_member->Stop();  // leaves the group: the others take its partitions at once
  }
  for (auto& pr : projectors) pr->Stop();
  if (follower) follower->Stop();
  service.reset();
  backend.reset();
  node.reset();
  std::fprintf(stderr, "ticketd: stopped%s\n", st.ok() ? "" : " (the engine had failed)");
  return st.ok() ? 0 : 1;
}
