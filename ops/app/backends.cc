#include "ops/app/backends.h"

#include "absl/strings/str_cat.h"

namespace tl::app {

absl::Status NodeBackend::Ready() {
  Engine& engine = node_->engine();
  if (absl::Status st = engine.status(); !st.ok()) return st;
  if (absl::Status st = node_->log().commands()->Writable(); !st.ok()) return st;
  for (int p = 0; p < engine.partitions(); ++p) {
    absl::StatusOr<uint64_t> end = node_->log().commands()->EndOffset(p);
    if (!end.ok()) return end.status();
    uint64_t decided = 0;
    engine.WithState(p, [&](const EngineState&, uint64_t d) { decided = d; });
    if (*end > decided + 10'000)
      return absl::UnavailableError(
          absl::StrCat("engine partition ", p, " is ", *end - decided, " commands behind"));
  }
  return absl::OkStatus();
}

absl::Status SplitBackend::Ready() {
  if (absl::Status st = follower_->status(); !st.ok()) return st;
  if (uint64_t lag = follower_->lag(); lag > 10'000)
    return absl::UnavailableError(absl::StrCat("the read side is ", lag, " events behind"));
  return absl::OkStatus();
}

}  // namespace tl::app
