#include "engine/log/sequence_check.h"

#include "absl/strings/str_cat.h"

namespace tl {

void SequenceCheck::Saw(uint64_t seq, std::string_view bytes) {
  if (hashes_.empty() || seq != first_ + hashes_.size()) {
    hashes_.clear();
    first_ = seq;
  }
  hashes_.push_back(Sha256(bytes));
  if (hashes_.size() > window_) {
    hashes_.pop_front();
    ++first_;
  }
}

absl::Status SequenceCheck::Repeat(uint64_t seq, std::string_view bytes, uint64_t offset) const {
  if (hashes_.empty() || seq < first_ || seq >= first_ + hashes_.size()) return absl::OkStatus();
  if (hashes_[seq - first_] == Sha256(bytes)) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("ledger offset ", offset,
                                          ": a different record at sequence ", seq,
                                          ", which was already read (a forged or corrupt ledger)"));
}

}  // namespace tl
