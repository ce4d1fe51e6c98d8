#include "worker/offset_fence.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

const TopicPartition kP0{"items", 0};
const TopicPartition kP1{"items", 1};

TEST(OffsetFenceTest, FirstWriteExpectsNoRow) {
  OffsetFence fence;
  fence.Claim(kP0, std::nullopt);
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan({{kP0, 10}});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 1u);
  EXPECT_EQ((*plan)[0].expected, std::nullopt);
  EXPECT_EQ((*plan)[0].next, 10);
}

TEST(OffsetFenceTest, ExpectsWhatWasReadThenWhatWasWritten) {
  OffsetFence fence;
  fence.Claim(kP0, 100);
  fence.Claim(kP1, std::nullopt);
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan({{kP0, 150}, {kP1, 5}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)[0].expected, 100);
  EXPECT_EQ((*plan)[1].expected, std::nullopt);
  fence.Advance(*plan);
  EXPECT_EQ(fence.Position(kP0), 150);
  EXPECT_EQ(fence.Position(kP1), 5);
  plan = fence.Plan({{kP0, 151}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)[0].expected, 150);
}

TEST(OffsetFenceTest, UnclaimedPartitionIsRefused) {
  OffsetFence fence;
  fence.Claim(kP0, 0);
  fence.Release(kP0);
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan({{kP0, 10}});
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(plan.status().message(), "partition items/0 is not assigned to this worker");
  EXPECT_FALSE(fence.IsClaimed(kP0));
}

TEST(OffsetFenceTest, OffsetsNeverMoveBackwards) {
  OffsetFence fence;
  fence.Claim(kP0, 50);
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan({{kP0, 50}});
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(plan.status().message(), "offset of items/0 would move from 50 to 50");
}

TEST(OffsetFenceTest, AdvanceIgnoresPartitionsReleasedMeanwhile) {
  OffsetFence fence;
  fence.Claim(kP0, 0);
  absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan({{kP0, 10}});
  ASSERT_TRUE(plan.ok());
  fence.Release(kP0);
  fence.Advance(*plan);
  EXPECT_FALSE(fence.IsClaimed(kP0));
}

}  // namespace
}  // namespace sluice::worker
