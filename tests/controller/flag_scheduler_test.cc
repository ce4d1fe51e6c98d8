#include "controller/flag_scheduler.h"

#include "common/proto_time.h"

#include "controller/ramp_scheduler.h"
#include "flags/flag_schedule.h"
#include "gtest/gtest.h"

namespace sluice::controller {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000000);
const absl::Duration kLead = absl::Seconds(30);
const absl::Duration kMinWindow = absl::Seconds(10);

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
      StartRamp(Named(), 10000, 4000, absl::Minutes(1), guards, kNow, kLead, kMinWindow);
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
  // Issue 10: the last (and largest) step was marked done as soon as it was
  // scheduled, so its guards were never checked. It is done only once its own
  // window has passed with them holding.
  EXPECT_EQ(h.ramp().state(), v1::Ramp::STATE_RUNNING);
  v1::Flag done = AdvanceRamp(h, kNow + absl::Minutes(6), kLead);
  EXPECT_EQ(done.ramp().state(), v1::Ramp::STATE_DONE);
  EXPECT_EQ(done.ramp().last_good_basis_points(), 10000u);
  EXPECT_EQ(done.schedule_size(), h.schedule_size());  // nothing more scheduled
  EXPECT_FALSE(done.ramp().has_next_step_time());
}

TEST(RampTest, RefusesBadRamps) {
  v1::RampGuards guards;
  EXPECT_EQ(StartRamp(Named(), 20000, 10, absl::Minutes(1), guards, kNow, kLead, kMinWindow)
                .status()
                .message(),
            "target_basis_points: 20000 is more than 10000 (100%)");
  EXPECT_EQ(StartRamp(Named(), 5000, 0, absl::Minutes(1), guards, kNow, kLead, kMinWindow)
                .status()
                .message(),
            "step_basis_points: must be greater than 0");
  EXPECT_EQ(StartRamp(Named(), 5000, 10, absl::Seconds(5), guards, kNow, kLead, kMinWindow)
                .status()
                .message(),
            "every: must be at least the propagation lead (30s)");
  v1::Flag at50 = *ScheduleChange(Named(), 5000, kNow + kLead, kNow, kLead);
  EXPECT_EQ(
      StartRamp(at50, 5000, 10, absl::Minutes(1), guards, kNow, kLead, kMinWindow).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(RampTest, HaltRollsBackToTheLastGoodPercent) {
  v1::RampGuards guards;
  guards.set_rollback_on_breach(true);
  v1::Flag f = *StartRamp(Named(), 10000, 2500, absl::Minutes(1), guards, kNow, kLead, kMinWindow);
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
  EXPECT_EQ(StartRamp(Named(), 5000, 4294967295u, absl::Minutes(1), guards, kNow, kLead, kMinWindow)
                .status()
                .message(),
            "step_basis_points: 4294967295 is more than 10000 (100%)");
  EXPECT_EQ(StartRamp(Named(), 2000, 5000, absl::Minutes(1), guards, kNow, kLead, kMinWindow)
                .status()
                .message(),
            "step_basis_points: 5000 is more than target_basis_points 2000");
  EXPECT_EQ(StartRamp(Named(), 2000, 1000, kMaxScheduleAhead + absl::Seconds(1), guards, kNow,
                      kLead, kMinWindow)
                .status()
                .message(),
            "every: must be at most 10 years");
  absl::StatusOr<v1::Flag> whole =
      StartRamp(Named(), 10000, 10000, absl::Minutes(1), guards, kNow, kLead, kMinWindow);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->ramp().state(), v1::Ramp::STATE_RUNNING);  // done once 100% held
}

// A ramp stored before the bound (step near 2^32) still never passes its target.
TEST(RampTest, AStoredHugeStepDoesNotWrap) {
  v1::Flag f = *StartRamp(Named(), 5000, 1000, absl::Minutes(1), {}, kNow, kLead, kMinWindow);
  f.mutable_ramp()->set_step_basis_points(4294967295u);
  v1::Flag g = AdvanceRamp(f, kNow + absl::Minutes(2), kLead);
  EXPECT_EQ(g.schedule(g.schedule_size() - 1).basis_points(), 5000u);
  EXPECT_EQ(AdvanceRamp(g, kNow + absl::Minutes(4), kLead).ramp().state(), v1::Ramp::STATE_DONE);
}

// Issue 10: rollback was a toggle: a second rollback scheduled the percentage the
// first one had undone. Repeated rollbacks now keep going back, then are refused.
TEST(ScheduleRollbackTest, RepeatedRollbacksKeepGoingBackNeverForward) {
  v1::Flag f = *ScheduleChange(Named(), 2500, kNow + kLead, kNow, kLead);
  f = *ScheduleChange(f, 5000, kNow + absl::Minutes(2), kNow, kLead);
  f = *ScheduleChange(f, 10000, kNow + absl::Minutes(3), kNow, kLead);
  absl::Time t = kNow + absl::Minutes(5);  // 100% in effect
  std::vector<uint32_t> seen;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<v1::Flag> r = ScheduleRollback(f, t, kLead);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    f = *r;
    EXPECT_EQ(f.schedule(f.schedule_size() - 1).kind(), v1::PercentageChange::KIND_ROLLBACK);
    t += absl::Minutes(1);
    seen.push_back(flags::FlagSchedule(f).BasisPointsAt(t));
  }
  EXPECT_EQ(seen, (std::vector<uint32_t>{5000, 2500, 0}));
  const absl::Status nothing_left = ScheduleRollback(f, t, kLead).status();
  EXPECT_EQ(nothing_left.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(nothing_left.message(),
            "flag kafka-ingest has no change to roll back (rollbacks only go back: every change "
            "since the last kill or the start of its schedule retention is rolled back)");
  // A new change after rollbacks is undone first, then the rollbacks go on back.
  f = *ScheduleChange(f, 4000, t + kLead, t, kLead);
  t += absl::Minutes(2);
  f = *ScheduleRollback(f, t, kLead);
  EXPECT_EQ(flags::FlagSchedule(f).BasisPointsAt(t + kLead), 0u);
}

// A ramp's rollback on a broken guard (back to its last good percentage) is a
// rollback too: the operator's next rollback goes further back, not to the step
// that broke the guard.
TEST(ScheduleRollbackTest, AfterARampRolledBackItGoesFurtherBack) {
  v1::RampGuards guards;
  guards.set_rollback_on_breach(true);
  v1::Flag f = *ScheduleChange(Named(), 1000, kNow + kLead, kNow, kLead);
  absl::Time t = kNow + absl::Minutes(1);
  f = *StartRamp(f, 10000, 2000, absl::Minutes(1), guards, t, kLead, kMinWindow);  // 30%
  t += absl::Minutes(2);
  f = AdvanceRamp(f, t, kLead);  // 30% held; 50% next
  t += absl::Minutes(2);
  f = HaltRamp(f, "dead-letter rate too high", t, kLead);  // 50% broke: back to 30%
  t += absl::Minutes(1);
  ASSERT_EQ(flags::FlagSchedule(f).BasisPointsAt(t), 3000u);
  f = *ScheduleRollback(f, t, kLead);
  t += absl::Minutes(1);
  EXPECT_EQ(flags::FlagSchedule(f).BasisPointsAt(t), 1000u);
  f = *ScheduleRollback(f, t, kLead);
  EXPECT_EQ(flags::FlagSchedule(f).BasisPointsAt(t + kLead), 0u);
}

TEST(ScheduleKillTest, ZeroAtTheLeadCancelsLaterChangesHaltsTheRampAndEndsRollbacks) {
  v1::Flag f = *ScheduleChange(Named(), 2500, kNow + kLead, kNow, kLead);
  f = *StartRamp(f, 10000, 2500, absl::Minutes(1), {}, kNow + absl::Minutes(1), kLead, kMinWindow);
  f = *ScheduleChange(f, 10000, kNow + absl::Hours(1), kNow + absl::Minutes(1), kLead);
  const absl::Time t = kNow + absl::Minutes(2);
  const v1::Flag killed = ScheduleKill(f, "oncall", t, kLead);
  const flags::FlagSchedule s(killed);
  EXPECT_EQ(s.BasisPointsAt(t), flags::FlagSchedule(f).BasisPointsAt(t));  // the lead holds
  EXPECT_EQ(s.BasisPointsAt(t + kLead), 0u);
  EXPECT_EQ(s.BasisPointsAt(kNow + absl::Hours(2)), 0u);  // the later 100% is cancelled
  EXPECT_EQ(killed.schedule(killed.schedule_size() - 1).kind(), v1::PercentageChange::KIND_KILL);
  EXPECT_EQ(killed.ramp().state(), v1::Ramp::STATE_HALTED);
  EXPECT_EQ(killed.ramp().halt_reason(), "killed by oncall");
  // Nothing before a kill is rolled back to: only a new set raises it again.
  EXPECT_EQ(ScheduleRollback(killed, t + absl::Minutes(1), kLead).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A kill of an idle flag works too, and a second kill is harmless.
  EXPECT_EQ(flags::FlagSchedule(ScheduleKill(ScheduleKill(Named(), "a", kNow, kLead), "b",
                                             kNow + absl::Minutes(1), kLead))
                .BasisPointsAt(kNow + absl::Hours(1)),
            0u);
}

TEST(StopRampTest, HaltsARunningRampAndLeavesOthers) {
  v1::Flag f = *StartRamp(Named(), 10000, 2500, absl::Minutes(1), {}, kNow, kLead, kMinWindow);
  const v1::Flag stopped = StopRamp(f, "stopped by alice");
  EXPECT_EQ(stopped.ramp().state(), v1::Ramp::STATE_HALTED);
  EXPECT_EQ(stopped.ramp().halt_reason(), "stopped by alice");
  EXPECT_FALSE(stopped.ramp().has_next_step_time());
  EXPECT_EQ(stopped.schedule_size(), f.schedule_size());  // the schedule is the caller's
  v1::Flag halted = HaltRamp(f, "dead-letter rate", kNow, kLead);
  EXPECT_EQ(StopRamp(halted, "stopped by alice").ramp().halt_reason(), "dead-letter rate");
  EXPECT_FALSE(StopRamp(Named(), "stopped by alice").has_ramp());
}

// Issue 10: a negative or tiny window was accepted and switched the guards off.
TEST(RampTest, RefusesGuardWindowsTooShortToHoldAReport) {
  v1::RampGuards guards;
  *guards.mutable_window() = ToProtoDuration(absl::Seconds(-5));
  EXPECT_EQ(StartRamp(Named(), 5000, 1000, absl::Minutes(1), guards, kNow, kLead, kMinWindow)
                .status()
                .message(),
            "guards.window: must not be negative");
  *guards.mutable_window() = ToProtoDuration(absl::Seconds(9));
  EXPECT_EQ(StartRamp(Named(), 5000, 1000, absl::Minutes(1), guards, kNow, kLead, kMinWindow)
                .status()
                .message(),
            "guards.window: must be at least two stats intervals (10s), got 9s: a shorter "
            "window holds no report and would switch the guards off");
  *guards.mutable_window() = ToProtoDuration(absl::Seconds(10));
  EXPECT_TRUE(
      StartRamp(Named(), 5000, 1000, absl::Minutes(1), guards, kNow, kLead, kMinWindow).ok());
  // Without a window the guards look back over `every`, which must be long enough.
  EXPECT_EQ(StartRamp(Named(), 5000, 1000, absl::Seconds(5), {}, kNow, absl::Seconds(2), kMinWindow)
                .status()
                .message(),
            "every: the guards look back over it (no --guard-window), so it must be at least "
            "two stats intervals (10s)");
  // The sample a step needs is stored, defaults included, for `flags status`.
  const v1::Flag f = *StartRamp(Named(), 5000, 1000, absl::Minutes(1), {}, kNow, kLead, kMinWindow);
  EXPECT_EQ(f.ramp().guards().min_items(), kDefaultMinRampItems);
  EXPECT_EQ(f.ramp().guards().min_batches(), kDefaultMinRampBatches);
}

StatsAggregator::PathHealth Healthy(uint64_t items, uint64_t batches) {
  StatsAggregator::PathHealth h;
  h.kafka_items = items;
  h.batches = batches;
  return h;
}

// Issue 10: with no data in the window the guards gave no verdict and the ramp
// advanced anyway. A due step now waits for its sample, says so once, and moves
// on when the sample is there.
TEST(NextRampChangeTest, ADueStepWaitsForItsSample) {
  v1::RampGuards guards;
  guards.set_max_dead_letter_rate(0.01);
  guards.set_min_items(500);
  guards.set_min_batches(5);
  v1::Flag f = *StartRamp(Named(), 10000, 5000, absl::Minutes(1), guards, kNow, kLead, kMinWindow);
  f.set_version(3);
  // Not due yet: nothing.
  EXPECT_EQ(NextRampChange(f, Healthy(0, 0), kNow + absl::Seconds(40), kLead), std::nullopt);
  const absl::Time due = kNow + kLead + absl::Minutes(1);
  for (const StatsAggregator::PathHealth& h : {Healthy(0, 0), Healthy(499, 50), Healthy(5000, 4)}) {
    std::optional<RampChange> wait = NextRampChange(f, h, due, kLead);
    ASSERT_TRUE(wait.has_value());
    EXPECT_EQ(wait->action, "flag.ramp.wait");
    EXPECT_EQ(wait->flag.ramp().waiting_reason(),
              "waiting for data: fewer than 500 items or 5 batches on the Kafka path over the "
              "last 1m (the guards cannot judge the step without them)");
    EXPECT_EQ(wait->flag.schedule_size(), f.schedule_size());
  }
  // Said once: a waiting ramp is not stored again every tick (each store is a
  // version pushed to every evaluator).
  v1::Flag waiting = NextRampChange(f, Healthy(0, 0), due, kLead)->flag;
  EXPECT_EQ(NextRampChange(waiting, Healthy(10, 1), due + absl::Seconds(1), kLead), std::nullopt);
  // The sample arrives: the step is taken and the wait forgotten.
  std::optional<RampChange> step =
      NextRampChange(waiting, Healthy(500, 5), due + absl::Seconds(9), kLead);
  ASSERT_TRUE(step.has_value());
  EXPECT_EQ(step->action, "flag.ramp.step");
  EXPECT_TRUE(step->flag.ramp().waiting_reason().empty());
  EXPECT_EQ(step->flag.ramp().last_good_basis_points(), 5000u);
  // The final step: done only after its own window, with a sample, guards holding.
  const v1::Flag last = step->flag;
  const absl::Time last_due = ToAbslTime(last.ramp().next_step_time());
  EXPECT_EQ(NextRampChange(last, Healthy(0, 0), last_due, kLead)->action, "flag.ramp.wait");
  StatsAggregator::PathHealth bad = Healthy(1000, 10);
  bad.dead_letters = 100;
  EXPECT_EQ(NextRampChange(last, bad, last_due, kLead)->action, "flag.ramp.halt");
  std::optional<RampChange> done = NextRampChange(last, Healthy(1000, 10), last_due, kLead);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->action, "flag.ramp.done");
  EXPECT_EQ(done->flag.ramp().state(), v1::Ramp::STATE_DONE);
}

// A broken guard halts at once, due or not, and whatever the sample.
TEST(NextRampChangeTest, ABrokenGuardHaltsAtOnce) {
  v1::RampGuards guards;
  guards.set_max_dead_letter_rate(0.01);
  const v1::Flag f =
      *StartRamp(Named(), 10000, 5000, absl::Minutes(1), guards, kNow, kLead, kMinWindow);
  StatsAggregator::PathHealth h = Healthy(20, 1);
  h.dead_letters = 5;
  std::optional<RampChange> c = NextRampChange(f, h, kNow + absl::Seconds(1), kLead);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->action, "flag.ramp.halt");
  EXPECT_EQ(c->flag.ramp().halt_reason(),
            "dead-letter rate 0.2500 > 0.0100 (5 of 20 items) over the last 1m");
}

}  // namespace
}  // namespace sluice::controller
