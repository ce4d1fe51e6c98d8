#include "flags/flag_schedule.h"

#include "flags/bucketing.h"
#include "gtest/gtest.h"

namespace sluice::flags {
namespace {

v1::Flag Flag(std::vector<std::pair<int64_t, uint32_t>> changes) {
  v1::Flag f;
  f.set_name("kafka-ingest");
  f.set_salt("kafka-ingest");
  f.set_version(7);
  for (const auto& [seconds, bp] : changes) {
    v1::PercentageChange* c = f.add_schedule();
    c->mutable_effective_time()->set_seconds(seconds);
    c->set_basis_points(bp);
  }
  return f;
}

TEST(FlagScheduleTest, PercentAsOfATime) {
  FlagSchedule s(Flag({{2000, 5000}, {1000, 100}, {3000, 2500}}));
  EXPECT_EQ(s.BasisPointsAt(absl::FromUnixSeconds(999)), 0u);
  EXPECT_EQ(s.BasisPointsAt(absl::FromUnixSeconds(1000)), 100u);
  EXPECT_EQ(s.BasisPointsAt(absl::FromUnixSeconds(1999)), 100u);
  EXPECT_EQ(s.BasisPointsAt(absl::FromUnixSeconds(2000)), 5000u);
  EXPECT_EQ(s.BasisPointsAt(absl::FromUnixSeconds(2999)), 5000u);
  EXPECT_EQ(s.BasisPointsAt(absl::FromUnixSeconds(5000)), 2500u);
  EXPECT_EQ(s.version(), 7u);
}

TEST(FlagScheduleTest, EvaluatesAKeyAtItsOwnTimestamp) {
  FlagSchedule s(Flag({{1000, 0}, {2000, 10000}}));
  const Evaluation before = s.Evaluate("project-1", absl::FromUnixSeconds(1500));
  const Evaluation after = s.Evaluate("project-1", absl::FromUnixSeconds(2500));
  EXPECT_FALSE(before.in_rollout);
  EXPECT_TRUE(after.in_rollout);
  EXPECT_EQ(before.bucket, after.bucket);
  EXPECT_EQ(after.basis_points, 10000u);
}

TEST(FlagScheduleTest, CapsAtFullRollout) {
  FlagSchedule s(Flag({{0, 20000}}));
  EXPECT_EQ(s.BasisPointsAt(absl::FromUnixSeconds(1)), kFullRollout);
}

}  // namespace
}  // namespace sluice::flags
