// `ticketctl replay`: fold the ledger into a fresh state store, print the
// digest, and compare it with the engine's checkpoint when there is one.
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/log/embedded/embedded_log.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/state_store.h"
#include "ops/ticketctl/progress.h"
#include "ops/ticketctl/verbs.h"

namespace tl::ctl {
namespace {

// Each partition's digest after folding its whole ledger into `store`.
absl::StatusOr<std::vector<Hash>> Refold(const Global& g, EmbeddedLogDb& log, StateStore* store,
                                         const EngineConfig& config) {
  std::vector<Hash> digests;
  uint64_t events = 0;
  for (int p = 0; p < g.partitions; ++p) {
    PartitionEngine pe(p, log.commands(), log.ledger(), store, config, Limits());
    Progress progress(absl::StrCat("replay partition ", p));
    pe.on_progress = [&](uint64_t done, uint64_t end) {
      progress.SetTotal(end);
      progress.Update(done);
    };
    if (absl::Status st = pe.Recover(); !st.ok()) return st;
    progress.Finish();
    digests.push_back(pe.state().digest);
    events += pe.state().next_sequence - 1;
    std::printf("partition %d: %llu events, digest %s\n", p,
                static_cast<unsigned long long>(pe.state().next_sequence - 1),
                ToHex(pe.state().digest).c_str());
  }
  std::printf("replayed %llu events; digest %s\n", static_cast<unsigned long long>(events),
              ToHex(CombinedDigest(digests)).c_str());
  return digests;
}

// Compares `digest` with the live engine's checkpoints: kExitOk when equal.
int CompareWithEngine(const Global& g, const std::string& digest) {
  auto live = StateStore::Open(g.data_dir + "/state");
  if (!live.ok()) return Fail(live.status());
  std::vector<Hash> live_digests;
  uint32_t live_version = kDigestVersion;
  for (int p = 0; p < g.partitions; ++p) {
    auto cp = (*live)->ReadCheckpoint(p);
    if (!cp.ok()) return Fail(cp.status());
    if (!cp->digest().empty() && cp->digest_version() != kDigestVersion)
      live_version = cp->digest_version() == 0 ? 1 : cp->digest_version();
    Hash h{};
    if (cp->digest().size() == 32) std::copy(cp->digest().begin(), cp->digest().end(), h.begin());
    live_digests.push_back(h);
  }
  std::string live_digest = ToHex(CombinedDigest(live_digests));
  if (live_version != kDigestVersion) {
    std::printf(
        "engine checkpoint digest %s is digest version %u and this build chains version %u "
        "(engine/log/LOG_FORMAT.md): not comparable; the engine refuses that state store until "
        "it is deleted and refolded\n",
        live_digest.c_str(), live_version, kDigestVersion);
    return app::kExitData;
  }
  bool same = live_digest == digest;
  std::printf("engine checkpoint digest %s: %s\n", live_digest.c_str(),
              same ? "identical"
                   : "DIFFERENT (the engine's state has not folded the whole ledger yet, or it "
                     "diverged)");
  return same ? app::kExitOk : app::kExitFailure;
}

int Run(const Global& g, std::string out_dir) {
  if (absl::Status st = RequireDataDir(g); !st.ok()) return Fail(st);
  absl::StatusOr<std::string> secret = SeedSecret(g);
  if (!secret.ok()) return Fail(secret.status());
  EngineConfig config;
  config.seed_secret = *secret;
  auto log = EmbeddedLogDb::Open(g.data_dir + "/log", g.partitions);
  if (!log.ok()) return Fail(log.status());
  const bool temp = out_dir.empty();
  if (temp) {
    char tmpl[] = "/tmp/ticketledger-replay-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Fail(absl::UnavailableError("mkdtemp failed"));
    out_dir = tmpl;
  } else if (std::filesystem::exists(out_dir) && !std::filesystem::is_empty(out_dir)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--out ", out_dir, " is not empty")));
  }
  int rc = app::kExitOk;
  {
    auto store = StateStore::Open(out_dir);
    if (!store.ok()) return Fail(store.status());
    absl::StatusOr<std::vector<Hash>> digests = Refold(g, **log, store->get(), config);
    if (!digests.ok()) {
      rc = Fail(digests.status());
    } else if (std::filesystem::exists(g.data_dir + "/state")) {
      rc = CompareWithEngine(g, ToHex(CombinedDigest(*digests)));
    }
  }
  if (temp) std::filesystem::remove_all(out_dir);
  return rc;
}

}  // namespace

Verb AddReplay(CLI::App& app, const Global& g) {
  auto out = std::make_shared<std::string>();
  CLI::App* replay = app.add_subcommand(
      "replay",
      "Fold the ledger into a fresh state store and print the digest; compare it with the "
      "engine's checkpoint (exit 1 if they differ)");
  replay->add_option("--out", *out, "Where to build the state (default: a temporary dir, removed)");
  return {replay, [out, &g] { return Run(g, *out); }};
}

}  // namespace tl::ctl
