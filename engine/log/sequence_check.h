// SequenceCheck: what a ledger reader does with a record whose sequence it
// has already seen. Kafka can deliver one twice (a producer retry, a zombie
// writer, an answer re-written after a torn write): the same bytes are
// dropped; different bytes at a seen sequence are corruption. The bytes of
// the last `window` sequences are kept (a copy costs a replay far less than
// hashing every record did); older repeats can only be dropped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "engine/core/hash.h"

namespace tl {

class SequenceCheck {
 public:
  explicit SequenceCheck(size_t window = 65536) : window_(window) {}

  // Records the bytes of sequence `seq`, the next one in order.
  void Saw(uint64_t seq, std::string_view bytes);
  // For a sequence already seen: OK if the bytes are the same (or too old to
  // tell), DataLoss naming the sequence and `offset` if they differ.
  absl::Status Repeat(uint64_t seq, std::string_view bytes, uint64_t offset) const;

 private:
  size_t window_;
  uint64_t first_ = 0;  // the oldest sequence kept
  uint64_t count_ = 0;  // sequences kept: first_ .. first_ + count_ - 1
  // A ring: sequence s is at ring_[s % window_]; its strings keep their
  // buffers, so a replay allocates nothing here once the ring is full.
  std::vector<std::string> ring_;
};

}  // namespace tl
