#include "flags/flag_schedule.h"

#include "common/proto_time.h"

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

// Issue 8: schedules are compacted past a retention into a plain schedule that
// any evaluator reads as before from the change before the one in effect at the
// cutoff on; older items get that change's percentage; items without a timestamp
// stay on the legacy path.
TEST(FlagScheduleTest, CompactionKeepsEveryDecisionFromTheChangeBeforeTheCutoff) {
  const v1::Flag original =
      Flag({{1000, 100}, {2000, 500}, {3000, 2500}, {4000, 5000}, {5000, 10000}});
  v1::Flag compacted = original;
  // In effect at 3500: the change at 3000 (K); the one before it (P) is at 2000.
  EXPECT_EQ(CompactSchedule(absl::FromUnixSeconds(3500), &compacted), 1);
  ASSERT_EQ(compacted.schedule_size(), 4);
  EXPECT_EQ(ToAbslTime(compacted.schedule(0).effective_time()), CompactedScheduleStart());
  EXPECT_EQ(compacted.schedule(0).basis_points(), 500u);
  EXPECT_EQ(compacted.schedule(1).effective_time().seconds(), 3000);
  EXPECT_EQ(compacted.schedule_kept_since().seconds(), 2000);
  const FlagSchedule before(original), after(compacted);
  for (int64_t t = 2000; t <= 6000; t += 37) {
    for (const char* key : {"p1", "p2", "p3", "p17", "tenant-9"}) {
      const Evaluation a = before.Evaluate(key, absl::FromUnixSeconds(t));
      const Evaluation b = after.Evaluate(key, absl::FromUnixSeconds(t));
      EXPECT_EQ(a.basis_points, b.basis_points) << t;
      EXPECT_EQ(a.in_rollout, b.in_rollout) << t;
    }
    EXPECT_FALSE(after.BeforeKeptSchedule(absl::FromUnixSeconds(t)));
  }
  // Older items: P's percentage, and counted.
  EXPECT_TRUE(after.BeforeKeptSchedule(absl::FromUnixSeconds(1999)));
  EXPECT_EQ(after.Evaluate("p1", absl::FromUnixSeconds(1500)).basis_points, 500u);
  EXPECT_EQ(after.Evaluate("p1", absl::FromUnixSeconds(-5000000)).basis_points, 500u);
  EXPECT_EQ(after.EvaluateItem("p1", std::nullopt).basis_points, 0u);
  EXPECT_FALSE(after.BeforeKeptSchedule(absl::InfinitePast()));
  EXPECT_FALSE(before.BeforeKeptSchedule(absl::FromUnixSeconds(1)));
  // Again later: the start change takes the new P's percentage.
  EXPECT_EQ(CompactSchedule(absl::FromUnixSeconds(4500), &compacted), 1);
  ASSERT_EQ(compacted.schedule_size(), 3);
  EXPECT_EQ(compacted.schedule(0).basis_points(), 2500u);
  EXPECT_EQ(compacted.schedule_kept_since().seconds(), 3000);
}

TEST(FlagScheduleTest, CompactionDropsNothingUntilTwoChangesPrecedeTheOneInEffect) {
  v1::Flag f = Flag({{1000, 100}, {2000, 500}, {3000, 2500}});
  EXPECT_EQ(CompactSchedule(absl::FromUnixSeconds(2500), &f), 0);
  EXPECT_EQ(CompactSchedule(absl::FromUnixSeconds(500), &f), 0);
  EXPECT_EQ(f.schedule_size(), 3);
  EXPECT_FALSE(f.has_schedule_kept_since());
  // Out of order: compacted the same once sorted; then nothing more to do.
  v1::Flag g = Flag({{4000, 7}, {1000, 100}, {3000, 2500}, {2000, 500}});
  EXPECT_EQ(CompactSchedule(absl::FromUnixSeconds(4000), &g), 2);
  ASSERT_EQ(g.schedule_size(), 2);
  EXPECT_EQ(g.schedule(0).basis_points(), 2500u);
  EXPECT_EQ(g.schedule(1).basis_points(), 7u);
  EXPECT_EQ(g.schedule_kept_since().seconds(), 3000);
  EXPECT_EQ(CompactSchedule(absl::FromUnixSeconds(4000), &g), 0);
}

}  // namespace
}  // namespace sluice::flags
