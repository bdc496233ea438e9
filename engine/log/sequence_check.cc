#include "engine/log/sequence_check.h"

#include "absl/strings/str_cat.h"

namespace tl {

void SequenceCheck::Saw(uint64_t seq, std::string_view bytes) {
  if (window_ == 0) return;
  if (count_ == 0 || seq != first_ + count_) {
    count_ = 0;
    first_ = seq;
  }
  if (ring_.empty()) ring_.resize(window_);
  if (count_ == window_) {  // full: forget the oldest
    ++first_;
    --count_;
  }
  ring_[seq % window_].assign(bytes.data(), bytes.size());
  ++count_;
}

absl::Status SequenceCheck::Repeat(uint64_t seq, std::string_view bytes, uint64_t offset) const {
  if (count_ == 0 || seq < first_ || seq >= first_ + count_) return absl::OkStatus();
  if (ring_[seq % window_] == bytes) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("ledger offset ", offset,
                                          ": a different record at sequence ", seq,
                                          ", which was already read (a forged or corrupt ledger)"));
}

}  // namespace tl
