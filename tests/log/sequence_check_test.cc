// engine/log/sequence_check: a repeat with the same bytes is dropped, with
// other bytes it is corruption naming the sequence and offset; only the last
// `window` sequences can be told apart.
#include "engine/log/sequence_check.h"

#include <gtest/gtest.h>

#include <string>

namespace tl {
namespace {

std::string Rec(uint64_t seq) { return "record-" + std::to_string(seq); }

TEST(SequenceCheck, NothingSeenIsNothingToCompare) {
  SequenceCheck check;
  EXPECT_TRUE(check.Repeat(1, "anything", 0).ok());
}

TEST(SequenceCheck, SameBytesAreADuplicate) {
  SequenceCheck check;
  for (uint64_t s = 1; s <= 10; ++s) check.Saw(s, Rec(s));
  for (uint64_t s = 1; s <= 10; ++s) EXPECT_TRUE(check.Repeat(s, Rec(s), 99).ok()) << s;
}

TEST(SequenceCheck, OtherBytesAtASeenSequenceAreDataLoss) {
  SequenceCheck check;
  for (uint64_t s = 1; s <= 10; ++s) check.Saw(s, Rec(s));
  absl::Status st = check.Repeat(4, Rec(5), /*offset=*/1234);
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
  EXPECT_NE(st.message().find("sequence 4"), std::string::npos) << st;
  EXPECT_NE(st.message().find("offset 1234"), std::string::npos) << st;
  // One byte different, or empty, is different.
  std::string flipped = Rec(4);
  flipped.back() ^= 1;
  EXPECT_EQ(check.Repeat(4, flipped, 0).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(check.Repeat(4, "", 0).code(), absl::StatusCode::kDataLoss);
  // Both ends of what was seen are checked.
  EXPECT_EQ(check.Repeat(1, "x", 0).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(check.Repeat(10, "x", 0).code(), absl::StatusCode::kDataLoss);
}

TEST(SequenceCheck, SequencesNotSeenAreNotJudged) {
  SequenceCheck check;
  for (uint64_t s = 5; s <= 7; ++s) check.Saw(s, Rec(s));
  EXPECT_TRUE(check.Repeat(4, "x", 0).ok());
  EXPECT_TRUE(check.Repeat(8, "x", 0).ok());
  EXPECT_TRUE(check.Repeat(UINT64_MAX, "x", 0).ok());
  EXPECT_TRUE(check.Repeat(0, "x", 0).ok());
}

TEST(SequenceCheck, OnlyTheWindowIsKept) {
  SequenceCheck check(/*window=*/3);
  for (uint64_t s = 1; s <= 5; ++s) check.Saw(s, Rec(s));
  // 1 and 2 fell out of the window: too old to tell, so dropped.
  EXPECT_TRUE(check.Repeat(1, "x", 0).ok());
  EXPECT_TRUE(check.Repeat(2, "x", 0).ok());
  for (uint64_t s = 3; s <= 5; ++s) {
    EXPECT_TRUE(check.Repeat(s, Rec(s), 0).ok()) << s;
    EXPECT_EQ(check.Repeat(s, "x", 0).code(), absl::StatusCode::kDataLoss) << s;
  }
}

TEST(SequenceCheck, AGapStartsOver) {
  SequenceCheck check;
  for (uint64_t s = 1; s <= 3; ++s) check.Saw(s, Rec(s));
  check.Saw(10, Rec(10));                     // a reader that jumped (a new start point)
  EXPECT_TRUE(check.Repeat(2, "x", 0).ok());  // forgotten, not misjudged
  EXPECT_EQ(check.Repeat(10, "x", 0).code(), absl::StatusCode::kDataLoss);
  check.Saw(11, Rec(11));
  EXPECT_TRUE(check.Repeat(11, Rec(11), 0).ok());
  EXPECT_EQ(check.Repeat(11, Rec(10), 0).code(), absl::StatusCode::kDataLoss);
}

TEST(SequenceCheck, ARewindStartsOver) {
  SequenceCheck check;
  for (uint64_t s = 1; s <= 5; ++s) check.Saw(s, Rec(s));
  check.Saw(2, "rewritten-2");
  EXPECT_TRUE(check.Repeat(2, "rewritten-2", 0).ok());
  EXPECT_TRUE(check.Repeat(4, "x", 0).ok());  // not seen since the rewind
}

TEST(SequenceCheck, ZeroWindowRemembersNothing) {
  SequenceCheck check(/*window=*/0);
  for (uint64_t s = 1; s <= 3; ++s) check.Saw(s, Rec(s));
  for (uint64_t s = 1; s <= 3; ++s) EXPECT_TRUE(check.Repeat(s, "x", 0).ok());
}

}  // namespace
}  // namespace tl
