#include "engine/runtime/node.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace tl {

absl::StatusOr<std::unique_ptr<Node>> Node::Open(const NodeOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("cannot create data dir ", options.data_dir, ": ", ec.message()));
  auto node = std::unique_ptr<Node>(new Node());
  node->options_ = options;
  auto log = EmbeddedLogDb::Open(options.data_dir + "/log", options.partitions, options.limits);
  if (!log.ok()) return log.status();
  node->log_ = std::move(*log);
  auto store = StateStore::Open(options.data_dir + "/state");
  if (!store.ok()) return store.status();
  node->store_ = std::move(*store);
  node->engine_ = std::make_unique<Engine>(node->log_->commands(), node->log_->ledger(),
                                           node->store_.get(), options.config, options.limits);
  if (absl::Status st = node->engine_->Recover(); !st.ok()) return st;
  return node;
}

absl::StatusOr<CommandPosition> Node::Submit(const pb::Command& command) {
  return AppendCommand(log_->commands(), command);
}

}  // namespace tl
