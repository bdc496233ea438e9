// What ticketctl's verbs share (see verbs.h).
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "ops/app/secrets.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

absl::StatusOr<std::string> LoadSecret(const Global& g, const std::string& file, const char* env,
                                       const char* flag, const char* dev_value) {
  absl::StatusOr<std::string> secret = app::ReadSecret(file, env);
  if (!secret.ok()) return secret.status();
  if (secret->empty()) {
    if (!g.dev)
      return absl::InvalidArgumentError(absl::StrCat("no secret: set ", env, " (or ", flag,
                                                     "), or pass --dev for development secrets"));
    std::fprintf(stderr, "ticketctl: --dev: using the development %s\n", env);
    *secret = dev_value;
  }
  if (secret->size() < 16)
    return absl::InvalidArgumentError(absl::StrCat(env, " must be at least 16 bytes"));
  return secret;
}

}  // namespace

absl::StatusOr<std::string> SeedSecret(const Global& g) {
  return LoadSecret(g, g.seed_secret_file, "TICKETLEDGER_SEED_SECRET", "--seed-secret-file",
                    app::kDevSeedSecret);
}

absl::StatusOr<std::string> JwtSecret(const Global& g, const std::string& file) {
  return LoadSecret(g, file, "TICKETD_JWT_SECRET", "--jwt-secret-file", app::kDevJwtSecret);
}

absl::Status RequireDataDir(const Global& g) {
  std::error_code ec;
  if (!std::filesystem::is_directory(g.data_dir, ec))
    return absl::NotFoundError(
        absl::StrCat("no data dir at ", g.data_dir, " (pass --data-dir; nothing was created)"));
  if (!std::filesystem::is_directory(g.data_dir + "/log", ec))
    return absl::NotFoundError(absl::StrCat("no ticketledger log at ", g.data_dir, "/log"));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Node>> OpenNode(const Global& g, const std::string& dir) {
  absl::StatusOr<std::string> secret = SeedSecret(g);
  if (!secret.ok()) return secret.status();
  NodeOptions options;
  options.data_dir = dir;
  options.partitions = g.partitions;
  options.config.seed_secret = *secret;
  return Node::Open(options);
}

int Fail(const absl::Status& st) {
  std::fprintf(stderr, "ticketctl: %s\n", std::string(st.message()).c_str());
  return app::ExitCodeFor(st);
}

}  // namespace tl::ctl
