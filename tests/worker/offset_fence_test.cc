#include "worker/offset_fence.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

const TopicPartition kP0{"items", 0};
const TopicPartition kP1{"items", 1};

// A batch of `tp` holding offsets [first, last] that continues from `from`.
Batch BatchOf(const TopicPartition& tp, int64_t from, int64_t first, int64_t last) {
  Batch b;
  for (int64_t o = first; o <= last; ++o) {
    Message m;
    m.topic = tp.topic;
    m.partition = tp.partition;
    m.offset = o;
    b.messages.push_back(m);
  }
  b.next_offsets[tp] = last + 1;
  b.continues_from[tp] = from;
  return b;
}

TEST(OffsetFenceTest, FirstWriteExpectsNoRow) {
  OffsetFence fence;
  fence.Claim(kP0, std::nullopt, kOffsetBeginning);
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan(BatchOf(kP0, kOffsetBeginning, 0, 9));
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ((*plan)[0].expected, std::nullopt);
  EXPECT_EQ((*plan)[0].next, 10);
}

TEST(OffsetFenceTest, ASymbolicStoredOffsetIsWhatTheUpdateExpects) {
  // After `offsets reset --to-earliest` the row holds kOffsetBeginning.
  OffsetFence fence;
  fence.Claim(kP0, kOffsetBeginning, kOffsetBeginning);
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan(BatchOf(kP0, kOffsetBeginning, 7, 9));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ((*plan)[0].expected, kOffsetBeginning);
  EXPECT_EQ((*plan)[0].next, 10);
}

TEST(OffsetFenceTest, ExpectsWhatWasReadThenWhatWasWritten) {
  OffsetFence fence;
  fence.Claim(kP0, 100, 100);
  fence.Claim(kP1, std::nullopt, kOffsetBeginning);
  Batch b = BatchOf(kP0, 100, 100, 149);
  Batch b1 = BatchOf(kP1, kOffsetBeginning, 0, 4);
  b.messages.insert(b.messages.end(), b1.messages.begin(), b1.messages.end());
  b.next_offsets.insert(b1.next_offsets.begin(), b1.next_offsets.end());
  b.continues_from.insert(b1.continues_from.begin(), b1.continues_from.end());
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan(b);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ((*plan)[0].expected, 100);
  EXPECT_EQ((*plan)[1].expected, std::nullopt);
  fence.Advance(*plan);
  EXPECT_EQ(fence.Position(kP0), 150);
  EXPECT_EQ(fence.Position(kP1), 5);
  plan = fence.Plan(BatchOf(kP0, 150, 150, 150));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)[0].expected, 150);
}

TEST(OffsetFenceTest, UnclaimedPartitionIsRefused) {
  OffsetFence fence;
  fence.Claim(kP0, 0, 0);
  fence.Release(kP0);
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan(BatchOf(kP0, 0, 0, 9));
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(plan.status().message(), "partition items/0 is not assigned to this worker");
  EXPECT_FALSE(fence.IsClaimed(kP0));
}

// Regression (issue 7.2): the fence only refused backward moves, so a batch that
// skipped the rewound offset 20 (P1:21-23) committed next offset 24.
TEST(OffsetFenceTest, ABatchThatDoesNotContinueTheStoredOffsetIsRefused) {
  OffsetFence fence;
  fence.Claim(kP1, 20, 20);
  absl::StatusOr<std::vector<OffsetUpdate>> gap = fence.Plan(BatchOf(kP1, 21, 21, 23));
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(gap.status().message(),
            "the batch's messages of items/1 continue from 21 but the stored offset is 20: "
            "refusing a gap or a move backwards");
  absl::StatusOr<std::vector<OffsetUpdate>> backwards = fence.Plan(BatchOf(kP1, 18, 18, 19));
  EXPECT_EQ(backwards.status().code(), absl::StatusCode::kAborted);
  // A gap inside the broker's stream (compaction, transaction markers) is fine:
  // the batch continues from 20 even though its first message is 22.
  absl::StatusOr<std::vector<OffsetUpdate>> compacted = fence.Plan(BatchOf(kP1, 20, 22, 23));
  ASSERT_TRUE(compacted.ok()) << compacted.status();
  EXPECT_EQ((*compacted)[0].next, 24);
}

TEST(OffsetFenceTest, OffsetsNeverStandStill) {
  OffsetFence fence;
  fence.Claim(kP0, 50, 50);
  Batch b = BatchOf(kP0, 50, 50, 50);
  b.next_offsets[kP0] = 50;
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan(b);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(plan.status().message(), "offset of items/0 would move from 50 to 50");
}

TEST(OffsetFenceTest, AdvanceIgnoresPartitionsReleasedMeanwhile) {
  OffsetFence fence;
  fence.Claim(kP0, 0, 0);
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan(BatchOf(kP0, 0, 0, 9));
  ASSERT_TRUE(plan.ok());
  fence.Release(kP0);
  fence.Advance(*plan);
  EXPECT_FALSE(fence.IsClaimed(kP0));
}

}  // namespace
}  // namespace sluice::worker
