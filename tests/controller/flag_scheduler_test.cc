#include "controller/flag_scheduler.h"

#include "common/proto_time.h"

#include "controller/ramp_scheduler.h"
#include "flags/flag_schedule.h"
#include "gtest/gtest.h"

namespace sluice::controller {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000000);
const absl::Duration kLead = absl::Seconds(30);

uint32_t At(const v1::Flag& f, absl::Duration from_now) {
  return flags::FlagSchedule(f).BasisPointsAt(kNow + from_now);
}

v1::Flag Named() {
  v1::Flag f;
  f.set_name("kafka-ingest");
  f.set_salt("kafka-ingest");
  return f;
}

// Issue 8: schedules grew with every change forever. Past the retention they are
// compacted (what an item inside it is routed by does not change), and what is
// left is bounded.
TEST(CompactAndBoundScheduleTest, CompactsPastTheRetentionAndBoundsTheRest) {
  v1::Flag f = Named();
  for (int i = 0; i < 10; ++i) {
    v1::PercentageChange* c = f.add_schedule();
    *c->mutable_effective_time() = ToProtoTimestamp(kNow - absl::Hours(10 - i));
    c->set_basis_points(100 * (i + 1));
  }
  const v1::Flag before = f;
  ASSERT_TRUE(CompactAndBoundSchedule(kNow, absl::Hours(3), &f).ok());
  // In effect at now − 3h: the change at −3h (bp 800); the one before it (−4h,
  // bp 700) becomes the schedule's start.
  ASSERT_EQ(f.schedule_size(), 4);
  EXPECT_EQ(f.schedule(0).basis_points(), 700u);
  EXPECT_EQ(ToAbslTime(f.schedule_kept_since()), kNow - absl::Hours(4));
  for (absl::Duration d = -absl::Hours(4); d <= absl::Hours(1); d += absl::Minutes(7)) {
    EXPECT_EQ(At(f, d), At(before, d));
  }
  // A rollback of a schedule compacted down to its last change still goes back.
  v1::Flag old = Named();
  for (int i = 0; i < 3; ++i) {
    v1::PercentageChange* c = old.add_schedule();
    *c->mutable_effective_time() = ToProtoTimestamp(kNow - absl::Hours(100 - i));
    c->set_basis_points(1000 * (i + 1));
  }
  ASSERT_TRUE(CompactAndBoundSchedule(kNow, absl::Hours(24), &old).ok());
  ASSERT_EQ(old.schedule_size(), 2);
  absl::StatusOr<v1::Flag> rolled = ScheduleRollback(old, kNow, kLead);
  ASSERT_TRUE(rolled.ok());
  EXPECT_EQ(At(*rolled, kLead), 2000u);

  v1::Flag huge = Named();
  for (int i = 0; i <= kMaxScheduleChanges; ++i) {
    v1::PercentageChange* c = huge.add_schedule();
    *c->mutable_effective_time() = ToProtoTimestamp(kNow + absl::Seconds(i));
    c->set_basis_points(i % 10000);
  }
  const absl::Status s = CompactAndBoundSchedule(kNow, absl::Hours(24), &huge);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  // A flag at the bound can still be rolled back (it adds one change, and is never
  // bounded: it is what an incident needs).
  EXPECT_TRUE(ScheduleRollback(huge, kNow + absl::Seconds(kMaxScheduleChanges), kLead).ok());
  EXPECT_EQ(s.message(), "flag kafka-ingest would keep 20001 schedule changes within its "
                         "retention; at most 20000");
}

TEST(ScheduleChangeTest, AddsAChangeNoSoonerThanTheLead) {
  absl::StatusOr<v1::Flag> f = ScheduleChange(Named(), 1250, kNow + kLead, kNow, kLead);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(At(*f, kLead - absl::Seconds(1)), 0u);
  EXPECT_EQ(At(*f, kLead), 1250u);
  EXPECT_EQ(ScheduleChange(Named(), 10001, kNow + kLead, kNow, kLead).status().message(),
            "basis_points: 10001 is more than 10000 (100%)");
  EXPECT_EQ(ScheduleChange(Named(), 100, kNow + absl::Seconds(29), kNow, kLead).status().message(),
            "effective_time: must be at least 30s from now (the propagation lead), got 29s");
}

TEST(ScheduleRollbackTest, ReturnsToThePreviousPercentAndKeepsTheLead) {
  v1::Flag f = *ScheduleChange(Named(), 2500, kNow + kLead, kNow, kLead);
  f = *ScheduleChange(f, 5000, kNow + absl::Minutes(2), kNow, kLead);
  f = *ScheduleChange(f, 10000, kNow + absl::Minutes(10), kNow, kLead);
  // Five minutes on: 50% holds, 100% is still to come.
  const absl::Time later = kNow + absl::Minutes(5);
  absl::StatusOr<v1::Flag> r = ScheduleRollback(f, later, kLead);
  ASSERT_TRUE(r.ok());
  const flags::FlagSchedule s(*r);
  EXPECT_EQ(s.BasisPointsAt(later), 5000u);                   // nothing inside the lead moved
  EXPECT_EQ(s.BasisPointsAt(later + kLead), 2500u);           // back to before the latest change
  EXPECT_EQ(s.BasisPointsAt(kNow + absl::Minutes(11)), 2500u);  // the 100% step is cancelled
  EXPECT_EQ(ScheduleRollback(Named(), kNow, kLead).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(RampTest, StepsUntilTheTargetAndRemembersTheLastGoodPercent) {
  v1::RampGuards guards;
  absl::StatusOr<v1::Flag> f =
      StartRamp(Named(), 10000, 4000, absl::Minutes(1), guards, kNow, kLead);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->ramp().state(), v1::Ramp::STATE_RUNNING);
  EXPECT_EQ(At(*f, kLead), 4000u);
  EXPECT_EQ(f->ramp().last_good_basis_points(), 0u);
  v1::Flag g = AdvanceRamp(*f, kNow + absl::Minutes(2), kLead);
  EXPECT_EQ(g.ramp().last_good_basis_points(), 4000u);
  EXPECT_EQ(At(g, absl::Minutes(2) + kLead), 8000u);
  EXPECT_EQ(g.ramp().state(), v1::Ramp::STATE_RUNNING);
  v1::Flag h = AdvanceRamp(g, kNow + absl::Minutes(4), kLead);
  EXPECT_EQ(At(h, absl::Minutes(4) + kLead), 10000u);  // capped at the target
  EXPECT_EQ(h.ramp().state(), v1::Ramp::STATE_DONE);
}

TEST(RampTest, RefusesBadRamps) {
  v1::RampGuards guards;
  EXPECT_EQ(StartRamp(Named(), 20000, 10, absl::Minutes(1), guards, kNow, kLead).status().message(),
            "target_basis_points: 20000 is more than 10000 (100%)");
  EXPECT_EQ(StartRamp(Named(), 5000, 0, absl::Minutes(1), guards, kNow, kLead).status().message(),
            "step_basis_points: must be greater than 0");
  EXPECT_EQ(StartRamp(Named(), 5000, 10, absl::Seconds(5), guards, kNow, kLead).status().message(),
            "every: must be at least the propagation lead (30s)");
  v1::Flag at50 = *ScheduleChange(Named(), 5000, kNow + kLead, kNow, kLead);
  EXPECT_EQ(StartRamp(at50, 5000, 10, absl::Minutes(1), guards, kNow, kLead).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RampTest, HaltRollsBackToTheLastGoodPercent) {
  v1::RampGuards guards;
  guards.set_rollback_on_breach(true);
  v1::Flag f = *StartRamp(Named(), 10000, 2500, absl::Minutes(1), guards, kNow, kLead);
  f = AdvanceRamp(f, kNow + absl::Minutes(2), kLead);  // 25% held; 50% scheduled
  const absl::Time breach = kNow + absl::Minutes(3);
  v1::Flag h = HaltRamp(f, "dead-letter rate too high", breach, kLead);
  EXPECT_EQ(h.ramp().state(), v1::Ramp::STATE_HALTED);
  EXPECT_EQ(h.ramp().halt_reason(), "dead-letter rate too high");
  EXPECT_EQ(flags::FlagSchedule(h).BasisPointsAt(breach), 5000u);
  EXPECT_EQ(flags::FlagSchedule(h).BasisPointsAt(breach + kLead), 2500u);
  // Without rollback the percentage stays where it is.
  f.mutable_ramp()->mutable_guards()->set_rollback_on_breach(false);
  EXPECT_EQ(flags::FlagSchedule(HaltRamp(f, "x", breach, kLead)).BasisPointsAt(breach + kLead),
            5000u);
}

TEST(BrokenGuardTest, NamesTheGuardAndTheValue) {
  v1::RampGuards g;
  g.set_max_dead_letter_rate(0.01);
  g.set_max_write_error_rate(0.5);
  g.set_max_freshness_p99_ms(2000);
  StatsAggregator::PathHealth h;
  EXPECT_EQ(BrokenGuard(g, h, absl::Minutes(1)), std::nullopt);  // no data, no verdict
  h.kafka_items = 1000;
  h.dead_letters = 10;
  h.batches = 10;
  h.retries = 5;
  h.freshness_p99_ms = 1500;
  EXPECT_EQ(BrokenGuard(g, h, absl::Minutes(1)), std::nullopt);
  h.dead_letters = 50;
  EXPECT_EQ(BrokenGuard(g, h, absl::Minutes(1)),
            "dead-letter rate 0.0500 > 0.0100 (50 of 1000 items) over the last 1m");
  h.dead_letters = 0;
  h.retries = 8;
  EXPECT_EQ(BrokenGuard(g, h, absl::Minutes(1)),
            "write error rate 0.8000 > 0.5000 (8 retries, 10 batches) over the last 1m");
  h.retries = 0;
  h.freshness_p99_ms = 2500;
  EXPECT_EQ(BrokenGuard(g, h, absl::Minutes(1)), "p99 freshness 2500ms > 2000ms over the last 1m");
}

// A far-future effective time made SetFlag answer UNKNOWN: protobuf's TimeUtil
// threw converting a time past year 9999.
TEST(ScheduleChangeTest, RefusesTimesMoreThanTenYearsAhead) {
  const absl::Time year10000 = absl::FromUnixSeconds(253402300800);
  EXPECT_EQ(ScheduleChange(Named(), 100, year10000, kNow, kLead).status().message(),
            "effective_time: must be at most 10 years from now, got 10000-01-01T00:00:00+00:00");
  EXPECT_EQ(ScheduleChange(Named(), 100, kNow + kMaxScheduleAhead + absl::Seconds(1), kNow, kLead)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ScheduleChange(Named(), 100, kNow + kMaxScheduleAhead, kNow, kLead).ok());
}

// A huge step made the ramp go 4999, 4998, ...: last + step wrapped in 32 bits.
TEST(RampTest, RefusesStepsAbove100PercentOrTheTarget) {
  const v1::RampGuards guards;
  EXPECT_EQ(StartRamp(Named(), 5000, 4294967295u, absl::Minutes(1), guards, kNow, kLead)
                .status()
                .message(),
            "step_basis_points: 4294967295 is more than 10000 (100%)");
  EXPECT_EQ(StartRamp(Named(), 2000, 5000, absl::Minutes(1), guards, kNow, kLead)
                .status()
                .message(),
            "step_basis_points: 5000 is more than target_basis_points 2000");
  EXPECT_EQ(StartRamp(Named(), 2000, 1000, kMaxScheduleAhead + absl::Seconds(1), guards, kNow,
                      kLead)
                .status()
                .message(),
            "every: must be at most 10 years");
  absl::StatusOr<v1::Flag> whole = StartRamp(Named(), 10000, 10000, absl::Minutes(1), guards,
                                             kNow, kLead);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->ramp().state(), v1::Ramp::STATE_DONE);
}

// A ramp stored before the bound (step near 2^32) still never passes its target.
TEST(RampTest, AStoredHugeStepDoesNotWrap) {
  v1::Flag f = *StartRamp(Named(), 5000, 1000, absl::Minutes(1), {}, kNow, kLead);
  f.mutable_ramp()->set_step_basis_points(4294967295u);
  v1::Flag g = AdvanceRamp(f, kNow + absl::Minutes(2), kLead);
  EXPECT_EQ(g.schedule(g.schedule_size() - 1).basis_points(), 5000u);
  EXPECT_EQ(g.ramp().state(), v1::Ramp::STATE_DONE);
}

}  // namespace
}  // namespace sluice::controller
