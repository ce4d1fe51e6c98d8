#include "controller/schedule_horizon_keeper.h"

#include "gtest/gtest.h"
#include "tests/fakes/fake_state_source.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::FakeStateSource;
using ::sluice::testing::ManualClock;

StateSnapshot FlagState(uint64_t revision, uint64_t flag_version) {
  StateSnapshot s;
  s.revision = revision;
  v1::Flag f;
  f.set_name("f");
  f.set_version(flag_version);
  s.flags.push_back(f);
  return s;
}

class ScheduleHorizonKeeperTest : public ::testing::Test {
 protected:
  ScheduleHorizonKeeperTest() {
    source_.load_answers.push_back(FlagState(1, 1));
    EXPECT_TRUE(sync_.Reload().ok());
    source_.revision = 1;
  }

  ManualClock clock_;
  Fleet fleet_{clock_, {}, nullptr};
  FakeStateSource source_;
  StateSync sync_{&source_, &fleet_, clock_};
  ScheduleHorizonKeeper keeper_{&source_, &sync_,  &fleet_,
                                clock_,   nullptr, {absl::Seconds(30), absl::Seconds(1)}};
};

// Issue 10: the horizon is the barrier + the lead - the write allowance, once the
// state read after the barrier is applied.
TEST_F(ScheduleHorizonKeeperTest, TheHorizonIsTheBarrierPlusTheLeadLessTheWriteAllowance) {
  const absl::Time b = absl::FromUnixSeconds(1700000000);
  source_.barrier = b;
  ASSERT_TRUE(keeper_.Advance().ok());
  EXPECT_EQ(fleet_.schedule_known_until(), b + absl::Seconds(29));
  EXPECT_EQ(source_.loads, 1) << "the applied state was current: no reload";
  EXPECT_EQ(keeper_.interval(), absl::Seconds(5));
}

// A write committed before the barrier is in the revision read after it: the
// state is reloaded first, and the horizon names the new flag version.
TEST_F(ScheduleHorizonKeeperTest, AStateWrittenBeforeTheBarrierIsAppliedBeforeTheHorizon) {
  source_.barrier = absl::FromUnixSeconds(1700000000);
  source_.revision = 2;
  source_.load_answers.push_back(FlagState(2, 2));
  ASSERT_TRUE(keeper_.Advance().ok());
  EXPECT_EQ(fleet_.applied_revision(), 2u);
  v1::Assignment a;
  *a.add_flags() = FlagState(2, 2).flags[0];
  EXPECT_EQ(fleet_.ScheduleHorizonFor(a)->flags(0).version(), 2u);
}

TEST_F(ScheduleHorizonKeeperTest, AFailedBarrierOrReloadLeavesTheHorizonWhereItWas) {
  const absl::Time b = absl::FromUnixSeconds(1700000000);
  source_.barrier = b;
  ASSERT_TRUE(keeper_.Advance().ok());
  source_.barrier = absl::UnavailableError("lock timeout");
  EXPECT_EQ(keeper_.Advance().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(fleet_.schedule_known_until(), b + absl::Seconds(29));
  // The barrier passes but the write it waited for cannot be loaded: the horizon
  // must not move past a change the workers have not got.
  source_.barrier = b + absl::Seconds(10);
  source_.revision = 2;
  EXPECT_FALSE(keeper_.Advance().ok());  // no load answer queued
  EXPECT_EQ(fleet_.schedule_known_until(), b + absl::Seconds(29));
  source_.load_answers.push_back(FlagState(2, 2));
  ASSERT_TRUE(keeper_.Advance().ok());
  EXPECT_EQ(fleet_.schedule_known_until(), b + absl::Seconds(39));
}

TEST(ScheduleHorizonKeeperIntervalTest, AQuarterOfTheLeadLessTheAllowanceWithinBounds) {
  ManualClock clock;
  Fleet fleet(clock, {}, nullptr);
  FakeStateSource source;
  StateSync sync(&source, &fleet, clock);
  auto interval = [&](absl::Duration lead, absl::Duration allowance) {
    return ScheduleHorizonKeeper(&source, &sync, &fleet, clock, nullptr, {lead, allowance})
        .interval();
  };
  EXPECT_EQ(interval(absl::Seconds(2), absl::Milliseconds(500)), absl::Milliseconds(375));
  EXPECT_EQ(interval(absl::Milliseconds(200), absl::Milliseconds(50)), absl::Milliseconds(100));
  EXPECT_EQ(interval(absl::Minutes(5), absl::Seconds(1)), absl::Seconds(5));
}

}  // namespace
}  // namespace sluice::controller
