#include "ops/app/settings.h"

#include "absl/strings/str_cat.h"
#include "engine/logger.h"
#include "ops/app/log.h"
#include "ops/app/secrets.h"

namespace tl::app {
namespace {

void AddRoleSettings(CLI::App* app, Settings* s) {
  app->add_option("--role", s->role,
                  "all: api + engine in one process on the embedded log; engine: decides the "
                  "command partitions its consumer group gives it into the Kafka ledger; api: "
                  "HTTP, commands to Kafka, reads folded from the Kafka ledger; projector: folds "
                  "the Kafka ledger into the read models")
      ->envname("TICKETD_ROLE")
      ->capture_default_str()
      ->check(CLI::IsMember({"all", "engine", "api", "projector"}));
  app->add_option("--data-dir", s->node.data_dir, "Data directory (log/ and state/)")
      ->envname("TICKETD_DATA_DIR")
      ->capture_default_str();
  app->add_option_function<int>(
         "--partitions",
         [s](const int& n) {
           s->node.partitions = n;
           s->partitions_given = true;
         },
         "Log partitions (fixed at creation; the Kafka roles adopt the topics' count if not "
         "given)")
      ->envname("TICKETD_PARTITIONS")
      ->default_str(std::to_string(s->node.partitions))
      ->check(CLI::Range(1, 1024));
  app->add_option("--jwt-secret-file", s->jwt_secret_file,
                  "File with the HS256 token secret (else $TICKETD_JWT_SECRET)");
  app->add_option("--seed-secret-file", s->seed_secret_file,
                  "File with the draw seed secret (else $TICKETLEDGER_SEED_SECRET)");
  app->add_option("--pass-key-file", s->pass_key_file,
                  "File with the Ed25519 private key (PEM PKCS#8) that signs admission passes "
                  "(else $TICKETD_PASS_KEY, the PEM text); roles all and api")
      ->check(CLI::ExistingFile);
  app->add_option("--pass-issuer", s->pass_issuer, "The iss claim of admission passes")
      ->envname("TICKETD_PASS_ISSUER")
      ->capture_default_str();
  app->add_option("--pass-ttl-s", s->pass_ttl_s,
                  "Lifetime of an admission pass in seconds (its exp; holds will make it the hold "
                  "deadline)")
      ->envname("TICKETD_PASS_TTL_S")
      ->capture_default_str()
      ->check(CLI::Range(1, 7 * 24 * 3600));
  app->add_flag("--dev", s->dev,
                "Use development secrets when none are given, and let the pages sign anyone in "
                "by name (POST /v1/dev/session); never in production")
      ->envname("TICKETD_DEV");
  app->add_flag("--demo", s->demo,
                "Create campaign 'demo' (stock 10, 50% win, 20 admitted/s) if missing")
      ->envname("TICKETD_DEMO");
  app->add_option("--log-level", s->log_level, "Least level logged (stderr)")
      ->envname("TICKETD_LOG_LEVEL")
      ->capture_default_str()
      ->check(CLI::IsMember(LogLevels()));
  app->add_flag("--access-log", s->access_log,
                "Log one line per answered request: method, route, status, duration (never "
                "headers, tokens or query strings)")
      ->envname("TICKETD_ACCESS_LOG");
}

void AddKafkaSettings(CLI::App* app, Settings* s) {
  app->add_option("--kafka-brokers", s->kafka.brokers,
                  "Kafka bootstrap servers (roles engine, api)")
      ->envname("TICKETD_KAFKA_BROKERS");
  app->add_option("--kafka-commands-topic", s->commands_topic, "Commands topic")
      ->envname("TICKETD_KAFKA_COMMANDS_TOPIC")
      ->capture_default_str();
  app->add_option("--kafka-ledger-topic", s->ledger_topic, "Ledger topic")
      ->envname("TICKETD_KAFKA_LEDGER_TOPIC")
      ->capture_default_str();
  app->add_option("--kafka-replication-factor", s->kafka.replication_factor,
                  "Replication factor for topics ticketd creates (-1 = the brokers' default)")
      ->envname("TICKETD_KAFKA_REPLICATION_FACTOR")
      ->capture_default_str();
  app->add_option("--kafka-transactional-id", s->transactional_id,
                  "Prefix of the engine's transactional.ids: partition N writes as <prefix>-pN, "
                  "so the engine taking a partition over fences its previous writer")
      ->envname("TICKETD_KAFKA_TRANSACTIONAL_ID")
      ->capture_default_str();
  app->add_option("--kafka-group", s->engine_group,
                  "Consumer group of the engines: it hands each engine its partitions")
      ->envname("TICKETD_KAFKA_GROUP")
      ->capture_default_str();
  app->add_option("--kafka-session-timeout-ms", s->session_timeout_ms,
                  "How long the engines' group waits for a silent engine before giving its "
                  "partitions to the others")
      ->envname("TICKETD_KAFKA_SESSION_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(1000, 3600000));
  app->add_option("--kafka-timeout-ms", s->append_timeout_ms,
                  "Longest a Kafka append, read or metadata call waits before failing (the api "
                  "answers 503)")
      ->envname("TICKETD_KAFKA_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app->add_option("--kafka-property", s->kafka_properties,
                  "librdkafka property key=value, repeatable (security.protocol, sasl.*, ssl.*)");
}

void AddServerSettings(CLI::App* app, Settings* s) {
  app->add_option("--host", s->server.host, "Listen address")
      ->envname("TICKETD_HOST")
      ->capture_default_str();
  app->add_option("--port", s->server.port, "Listen port (0 = any free port, printed at start)")
      ->envname("TICKETD_PORT")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app->add_option("--io-threads", s->server.io_threads,
                  "HTTP event loops (0 = one per core); no request holds one while it waits")
      ->envname("TICKETD_IO_THREADS")
      ->capture_default_str()
      ->check(CLI::Range(0, 256));
  app->add_option("--listen-backlog", s->server.listen_backlog,
                  "TCP accept queue (capped by net.core.somaxconn)")
      ->envname("TICKETD_LISTEN_BACKLOG")
      ->capture_default_str();
  app->add_option("--header-bytes-max", s->server.header_bytes_max,
                  "Largest request line + headers (else 431)")
      ->envname("TICKETD_HEADER_BYTES_MAX")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1024}, size_t{1} << 20));
  app->add_option("--header-count-max", s->server.header_count_max,
                  "Most headers a request may have (else 431)")
      ->envname("TICKETD_HEADER_COUNT_MAX")
      ->capture_default_str()
      ->check(CLI::Range(size_t{8}, size_t{10000}));
  app->add_option("--body-bytes-max", s->server.body_bytes_max,
                  "Largest request body, also when chunked (else 413 as soon as it passes)")
      ->envname("TICKETD_BODY_BYTES_MAX")
      ->capture_default_str()
      ->check(CLI::Range(size_t{64}, size_t{64} << 20));
  app->add_option("--header-timeout-ms", s->server.header_timeout_ms,
                  "From a request's first byte to its last header (slow headers are closed)")
      ->envname("TICKETD_HEADER_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app->add_option("--request-timeout-ms", s->server.request_timeout_ms,
                  "From a request's first byte to its last body byte")
      ->envname("TICKETD_REQUEST_TIMEOUT_MS")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  app->add_option("--idle-timeout-s", s->server.idle_timeout_s,
                  "How long a keep-alive connection may wait for its next request")
      ->envname("TICKETD_IDLE_TIMEOUT_S")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app->add_option("--write-timeout-s", s->server.write_timeout_s,
                  "Longest a response or live-stream write may take (slow readers are dropped)")
      ->envname("TICKETD_WRITE_TIMEOUT_S")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app->add_option("--requests-per-conn-max", s->server.requests_per_connection_max,
                  "Requests on one keep-alive connection before it is closed")
      ->envname("TICKETD_REQUESTS_PER_CONN_MAX")
      ->capture_default_str();
  app->add_option("--conns-max", s->server.connections_max,
                  "Open connections in total (0 = the open-file limit less 512)")
      ->envname("TICKETD_CONNS_MAX")
      ->capture_default_str();
  app->add_option("--conns-per-address-max", s->server.connections_per_address_max,
                  "Open connections from one client address (else 429 and close)")
      ->envname("TICKETD_CONNS_PER_ADDRESS_MAX")
      ->capture_default_str();
}

void AddLiveSettings(CLI::App* app, Settings* s) {
  app->add_option("--streams-per-user-max", s->api.live.streams_per_user_max,
                  "Live streams (SSE, WebSocket) one user may hold (else 429)")
      ->envname("TICKETD_STREAMS_PER_USER_MAX")
      ->capture_default_str();
  app->add_option("--streams-per-address-max", s->api.live.streams_per_address_max,
                  "Live streams one client address may hold (else 429)")
      ->envname("TICKETD_STREAMS_PER_ADDRESS_MAX")
      ->capture_default_str();
  app->add_option(
         "--streams-memory-mb", s->streams_memory_mb,
         "Memory for live streams; at 16 KiB a stream this bounds them in total (else 503)")
      ->envname("TICKETD_STREAMS_MEMORY_MB")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  app->add_option("--live-interval-ms", s->api.live.interval_ms,
                  "A campaign's watchers get at most one message per interval (coalescing)")
      ->envname("TICKETD_LIVE_INTERVAL_MS")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  app->add_option("--live-messages-per-s-max", s->api.live.messages_per_s_max,
                  "Live messages a second for all watchers together; a bigger crowd gets its "
                  "updates less often than --live-interval-ms")
      ->envname("TICKETD_LIVE_MESSAGES_PER_S_MAX")
      ->capture_default_str()
      ->check(CLI::Range(size_t{100}, size_t{10'000'000}));
  app->add_option("--stream-max-s", s->api.live.stream_max_s,
                  "A live stream ends after this long; clients reconnect (Last-Event-ID)")
      ->envname("TICKETD_STREAM_MAX_S")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  app->add_option("--stream-ticket-ttl-s", s->api.stream_ticket_ttl_s,
                  "Life of a stream ticket (how browsers open the live channel)")
      ->envname("TICKETD_STREAM_TICKET_TTL_S")
      ->capture_default_str()
      ->check(CLI::Range(5, 86400));
  app->add_option(
         "--cors-origin", s->cors_origins,
         "An origin browsers may call from (repeatable, exact, e.g. https://shop.example); "
         "none by default")
      ->envname("TICKETD_CORS_ORIGINS")
      ->delimiter(',');
  app->add_flag("--cookie-secure", s->api.cookie_secure,
                "Mark the pages' session cookie Secure (browsers then send it over HTTPS only: "
                "set it when ticketd or its proxy serves HTTPS)")
      ->envname("TICKETD_COOKIE_SECURE");
}

void AddApiSettings(CLI::App* app, Settings* s) {
  app->add_option("--append-queue-max", s->api.append_queue_max,
                  "Commands waiting to be stored before new ones get 503 (0: every new command "
                  "gets 503, a drain before maintenance)")
      ->envname("TICKETD_APPEND_QUEUE_MAX")
      ->capture_default_str();
  app->add_option_function<uint64_t>(
         "--tick-ms",
         [s](const uint64_t& ms) {
           s->ticker.tick_ms = ms;
           s->tick_ms_given = true;
         },
         "Waiting-room tick interval of the engine, which ticks the partitions it owns (roles "
         "all and engine; 0 = no ticks)")
      ->envname("TICKETD_TICK_MS")
      ->default_str(std::to_string(s->ticker.tick_ms));
  app->add_option("--wait-s-max", s->api.wait_s_max, "Cap for the Prefer: wait=N header")
      ->envname("TICKETD_WAIT_S_MAX")
      ->capture_default_str()
      ->check(CLI::Range(0, 60));
  app->add_option("--user-rate", s->api.user_rate_per_s,
                  "Requests/s per user (token bucket; 0 = off)")
      ->envname("TICKETD_USER_RATE")
      ->capture_default_str();
  app->add_option("--user-burst", s->api.user_burst, "Burst per user")
      ->envname("TICKETD_USER_BURST")
      ->capture_default_str();
  app->add_option("--ip-rate", s->api.ip_rate_per_s, "Requests/s per client address (0 = off)")
      ->envname("TICKETD_IP_RATE")
      ->capture_default_str();
  app->add_option("--ip-burst", s->api.ip_burst, "Burst per client address")
      ->envname("TICKETD_IP_BURST")
      ->capture_default_str();
  app->add_flag("--trust-forwarded-for", s->api.trust_forwarded_for,
                "Take the client address from X-Forwarded-For (only behind a proxy that sets it)")
      ->envname("TICKETD_TRUST_FORWARDED_FOR");
  app->add_option("--idempotency-keys-max", s->api.idempotency_keys_max,
                  "Idempotency keys remembered")
      ->envname("TICKETD_IDEMPOTENCY_KEYS_MAX")
      ->capture_default_str();
}

void AddStoreSettings(CLI::App* app, Settings* s) {
  app->add_option("--redis-url", s->redis_url,
                  "Redis read model: redis://[:password@]host[:port][/db]. Roles all and projector "
                  "write it, roles all and api read entries and rankings from it (password also "
                  "from $REDIS_PASSWORD)")
      ->envname("TICKETD_REDIS_URL");
  app->add_option("--redis-prefix", s->redis_prefix,
                  "Prefix of every Redis key ticketledger writes")
      ->envname("TICKETD_REDIS_PREFIX")
      ->capture_default_str();
  app->add_option("--postgres-url", s->postgres_url,
                  "PostgreSQL read model: a libpq URI or connection string. Roles all and "
                  "projector write it, roles all and api read results from it (password also from "
                  "$PGPASSWORD)")
      ->envname("TICKETD_POSTGRES_URL");
  app->add_option("--postgres-schema", s->postgres_schema, "Schema of the PostgreSQL read model")
      ->envname("TICKETD_POSTGRES_SCHEMA")
      ->capture_default_str();
}

// The admission pass key, where HTTP api routes are served (roles all and
// api): --pass-key-file, else $TICKETD_PASS_KEY, else with --dev the
// development key; required like the token secret.
absl::Status LoadPassKey(Settings* s) {
  if (s->role != "all" && s->role != "api") return absl::OkStatus();
  absl::StatusOr<std::string> pem = ReadSecret(s->pass_key_file, "TICKETD_PASS_KEY");
  if (!pem.ok()) return pem.status();
  auto signer = std::make_shared<api::PassSigner>();
  signer->issuer = s->pass_issuer;
  signer->ttl_s = s->pass_ttl_s;
  if (pem->empty()) {
    if (!s->dev)
      return absl::InvalidArgumentError(
          "no pass key: set TICKETD_PASS_KEY to an Ed25519 private key in PEM (openssl genpkey "
          "-algorithm ed25519), or --pass-key-file, or pass --dev for the development key");
    signer->key = api::PassKey::Dev();
    Logger("ticketd")->warn("--dev: signing admission passes with the development key");
  } else {
    absl::StatusOr<api::PassKey> key = api::PassKey::FromPem(*pem + "\n");
    if (!key.ok())
      return absl::InvalidArgumentError(
          absl::StrCat(key.status().message(), " (from ",
                       s->pass_key_file.empty() ? "$TICKETD_PASS_KEY" : s->pass_key_file, ")"));
    signer->key = *std::move(key);
  }
  s->api.pass = std::move(signer);
  return absl::OkStatus();
}

// The secrets of the roles that use them: the token secret where HTTP api
// routes are served, the seed secret where draws are decided.
absl::Status LoadSecrets(Settings* s) {
  absl::StatusOr<std::string> jwt = ReadSecret(s->jwt_secret_file, "TICKETD_JWT_SECRET");
  if (!jwt.ok()) return jwt.status();
  absl::StatusOr<std::string> seed = ReadSecret(s->seed_secret_file, "TICKETLEDGER_SEED_SECRET");
  if (!seed.ok()) return seed.status();
  s->api.jwt_secret = *jwt;
  s->node.config.seed_secret = *seed;
  if (s->role == "engine" || s->role == "projector") s->api.jwt_secret = kDevJwtSecret;  // no api
  if (s->role == "api" || s->role == "projector")
    s->node.config.seed_secret = kDevSeedSecret;  // never used: they do not decide
  if (s->api.jwt_secret.empty() || s->node.config.seed_secret.empty()) {
    if (!s->dev)
      return absl::InvalidArgumentError(
          "no secrets: set TICKETD_JWT_SECRET and TICKETLEDGER_SEED_SECRET (or the "
          "--*-secret-file flags), or pass --dev for development secrets");
    if (s->api.jwt_secret.empty()) s->api.jwt_secret = kDevJwtSecret;
    if (s->node.config.seed_secret.empty()) s->node.config.seed_secret = kDevSeedSecret;
    Logger("ticketd")->warn("--dev: using development secrets");
  }
  if (s->api.jwt_secret.size() < kSecretBytesMin ||
      s->node.config.seed_secret.size() < kSecretBytesMin)
    return absl::InvalidArgumentError(
        absl::StrCat("secrets must be at least ", kSecretBytesMin, " bytes"));
  return LoadPassKey(s);
}

}  // namespace

Settings::Settings() {
  node.data_dir = "./ticketledger-data";
  ticker.tick_ms = 100;
  streams_memory_mb = api.live.streams_memory_bytes >> 20;
}

void AddSettings(CLI::App* app, Settings* s) {
  AddRoleSettings(app, s);
  AddKafkaSettings(app, s);
  AddServerSettings(app, s);
  AddLiveSettings(app, s);
  AddApiSettings(app, s);
  AddStoreSettings(app, s);
}

absl::Status FinishSettings(Settings* s) {
  for (const std::string& kv : s->kafka_properties) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos)
      // Not echoed: it may be a password missing its key.
      return absl::InvalidArgumentError("--kafka-property wants key=value (one has no '=')");
    s->kafka.properties[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (s->tick_ms_given && s->role != "all" && s->role != "engine")
    return absl::InvalidArgumentError(absl::StrCat(
        "--tick-ms (TICKETD_TICK_MS) is not an option of role ", s->role,
        ": the waiting-room ticker runs in the engine (roles all and engine), which ticks the "
        "partitions it owns"));
  if (s->kafka_role() && s->kafka.brokers.empty())
    return absl::InvalidArgumentError(absl::StrCat("--role ", s->role, " needs --kafka-brokers"));
  s->kafka.partitions = s->partitions_given ? s->node.partitions : 0;
  s->kafka.timeout = absl::Milliseconds(s->append_timeout_ms);
  s->api.live.streams_memory_bytes = s->streams_memory_mb << 20;
  return LoadSecrets(s);
}

}  // namespace tl::app
