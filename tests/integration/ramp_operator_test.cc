// A guarded ramp against the operator, through the real controller and sluicectl:
// an operator's set, rollback or kill stops the ramp (its next tick must not
// override them), repeated rollbacks only go back, and a due step without data
// waits visibly instead of advancing blind (issue 10).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "flags/flag_schedule.h"
#include "gtest/gtest.h"
#include "tests/integration/control_plane_test_base.h"

namespace sluice::testing {
namespace {

class RampOperatorTest : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    if (HasFatalFailure()) return;
    CtlResult r = Ctl({"flags", "create", "kafka-ingest"});
    ASSERT_EQ(r.code, 0) << r.output;
  }

  v1::Flag Flag() { return CtlJson<v1::Flag>({"flags", "get", "kafka-ingest"}); }

  // Starts a ramp 0 → 100 % by 10 % every 2 s (the tests' lead) on the flag's
  // current version; `extra` adds guard options.
  v1::Flag Ramp(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"flags",
                                     "ramp",
                                     "kafka-ingest",
                                     "--to",
                                     "100",
                                     "--step",
                                     "10",
                                     "--every",
                                     "2s",
                                     "--expected-version",
                                     absl::StrCat(Flag().version())};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.begin(), "--json");
    CtlResult r = Ctl(args);
    EXPECT_EQ(r.code, 0) << r.output;
    v1::Flag f;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.output, &f).ok()) << r.output;
    return f;
  }

  // After a few of the controller's ramp ticks past the step interval, the stopped
  // ramp has changed nothing: same version, same schedule.
  void ExpectTheRampStaysStopped(const v1::Flag& after_operator) {
    absl::SleepFor(absl::Seconds(5));  // two step intervals, five ticks
    const v1::Flag now = Flag();
    EXPECT_EQ(now.version(), after_operator.version()) << now.DebugString();
    EXPECT_EQ(now.schedule_size(), after_operator.schedule_size());
    EXPECT_EQ(now.ramp().state(), v1::Ramp::STATE_HALTED);
  }
};

// Before the fix the ramp stayed running, and its next tick scheduled last + step
// on top of the operator's 0 %.
TEST_F(RampOperatorTest, ASetStopsTheRampAndItsPercentageStands) {
  const v1::Flag ramped = Ramp({"--min-items", "1", "--min-batches", "1"});
  ASSERT_EQ(ramped.ramp().state(), v1::Ramp::STATE_RUNNING);
  CtlResult set = Ctl({"--json", "flags", "set", "kafka-ingest", "--percent", "0",
                       "--expected-version", absl::StrCat(ramped.version())});
  ASSERT_EQ(set.code, 0) << set.output;
  const v1::Flag f = Flag();
  EXPECT_EQ(f.ramp().state(), v1::Ramp::STATE_HALTED);
  EXPECT_TRUE(absl::StartsWith(f.ramp().halt_reason(), "stopped by ")) << f.ramp().halt_reason();
  EXPECT_TRUE(
      absl::StrContains(Ctl({"flags", "status", "kafka-ingest"}).output, "halted: stopped by "));
  ExpectTheRampStaysStopped(f);
  EXPECT_EQ(flags::FlagSchedule(Flag()).BasisPointsAt(absl::Now() + absl::Minutes(1)), 0u);
}

TEST_F(RampOperatorTest, ARollbackStopsTheRampAndRepeatedOnesOnlyGoBack) {
  // 20 %, then 50 %, then a ramp from 50 % whose first step schedules 60 %.
  for (const char* percent : {"20", "50"}) {
    CtlResult r = Ctl({"flags", "set", "kafka-ingest", "--percent", percent, "--in", "2s",
                       "--expected-version", absl::StrCat(Flag().version())});
    ASSERT_EQ(r.code, 0) << r.output;
  }
  Ramp();
  auto rollback = [&] {
    return Ctl({"flags", "rollback", "kafka-ingest", "--expected-version",
                absl::StrCat(Flag().version())});
  };
  CtlResult first = rollback();
  ASSERT_EQ(first.code, 0) << first.output;
  v1::Flag f = Flag();
  EXPECT_EQ(f.ramp().state(), v1::Ramp::STATE_HALTED);
  EXPECT_TRUE(absl::StartsWith(f.ramp().halt_reason(), "stopped by ")) << f.ramp().halt_reason();
  const absl::Time later = absl::Now() + absl::Minutes(1);
  EXPECT_EQ(flags::FlagSchedule(f).BasisPointsAt(later), 5000u);  // the ramp's step undone
  ExpectTheRampStaysStopped(f);
  // Before the fix the second rollback scheduled 60 % again (a toggle).
  ASSERT_EQ(rollback().code, 0);
  EXPECT_EQ(flags::FlagSchedule(Flag()).BasisPointsAt(later), 2000u);
  ASSERT_EQ(rollback().code, 0);
  EXPECT_EQ(flags::FlagSchedule(Flag()).BasisPointsAt(later), 0u);
  CtlResult refused = rollback();
  EXPECT_EQ(refused.code, 1) << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "has no change to roll back")) << refused.output;
  CtlResult history = Ctl({"flags", "history", "kafka-ingest"});
  EXPECT_TRUE(absl::StrContains(history.output, "rollback")) << history.output;
}

TEST_F(RampOperatorTest, AKillNeedsNoVersionHaltsTheRampAndIsAudited) {
  CtlResult set = Ctl(
      {"flags", "set", "kafka-ingest", "--percent", "30", "--in", "2s", "--expected-version", "1"});
  ASSERT_EQ(set.code, 0) << set.output;
  // A later change is pending too: the kill cancels it.
  CtlResult later = Ctl({"flags", "set", "kafka-ingest", "--percent", "90", "--in", "1h",
                         "--expected-version", "2"});
  ASSERT_EQ(later.code, 0) << later.output;
  Ramp();
  const absl::Time before = absl::Now();
  CtlResult kill = Ctl({"--json", "flags", "kill", "kafka-ingest"});
  ASSERT_EQ(kill.code, 0) << kill.output;
  const v1::Flag f = Flag();
  EXPECT_EQ(f.ramp().state(), v1::Ramp::STATE_HALTED);
  EXPECT_TRUE(absl::StartsWith(f.ramp().halt_reason(), "killed by ")) << f.ramp().halt_reason();
  const v1::PercentageChange& last = f.schedule(f.schedule_size() - 1);
  EXPECT_EQ(last.kind(), v1::PercentageChange::KIND_KILL);
  EXPECT_EQ(last.basis_points(), 0u);
  // At the earliest safe time: now + lead, not sooner.
  EXPECT_GE(ToAbslTime(last.effective_time()), before + flag_lead_);
  EXPECT_LE(ToAbslTime(last.effective_time()), absl::Now() + flag_lead_);
  EXPECT_EQ(flags::FlagSchedule(f).BasisPointsAt(absl::Now() + absl::Hours(2)), 0u);
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list"}).output, "flag.kill"));
  ExpectTheRampStaysStopped(f);
  // Nothing before a kill is rolled back to.
  CtlResult rollback = Ctl(
      {"flags", "rollback", "kafka-ingest", "--expected-version", absl::StrCat(Flag().version())});
  EXPECT_EQ(rollback.code, 1) << rollback.output;
  // Killing a flag that does not exist says so.
  CtlResult missing = Ctl({"flags", "kill", "no-such-flag"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(absl::StrContains(missing.output, "no-such-flag")) << missing.output;
}

// With no worker there is no data: before the fix the ramp advanced every 2 s
// anyway. Now its due step waits, visibly.
TEST_F(RampOperatorTest, ADueStepWithoutDataWaitsAndSaysSo) {
  const v1::Flag ramped = Ramp({"--max-dead-letter-rate", "0.01"});
  const int port = controller_->metrics_port();
  ASSERT_TRUE(WaitFor(
      [&] {
        return ScrapeMetric(
                   port, "sluice_controller_ramp_state{flag=\"kafka-ingest\",state=\"waiting\"}") ==
               1;
      },
      absl::Seconds(15)));
  const v1::Flag f = Flag();
  EXPECT_EQ(f.ramp().state(), v1::Ramp::STATE_RUNNING);
  EXPECT_EQ(f.schedule_size(), ramped.schedule_size());  // no second step
  EXPECT_EQ(f.ramp().last_good_basis_points(), 0u);
  CtlResult status = Ctl({"flags", "status", "kafka-ingest"});
  EXPECT_TRUE(absl::StrContains(status.output,
                                "waiting for data: fewer than 1000 items or 10 batches on the "
                                "Kafka path over the last 2s"))
      << status.output;
  EXPECT_EQ(
      ScrapeMetric(port, "sluice_controller_ramp_state{flag=\"kafka-ingest\",state=\"running\"}"),
      0);
  // Said once, not stored at every tick.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(Flag().version(), f.version());
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list"}).output, "flag.ramp.wait"));
}

TEST_F(RampOperatorTest, AGuardWindowShorterThanTwoStatsIntervalsIsRefused) {
  // Stats come every second here: a window needs at least 2 s.
  CtlResult tiny = Ctl({"flags", "ramp", "kafka-ingest", "--to", "100", "--step", "10", "--every",
                        "10s", "--guard-window", "1s", "--expected-version", "1"});
  EXPECT_EQ(tiny.code, 1) << tiny.output;
  EXPECT_TRUE(absl::StrContains(tiny.output,
                                "guards.window: must be at least two stats "
                                "intervals (2s), got 1s"))
      << tiny.output;
  // sluicectl refuses a negative one itself (the controller too: flag_scheduler_test).
  CtlResult negative = Ctl({"flags", "ramp", "kafka-ingest", "--to", "100", "--step", "10",
                            "--every", "10s", "--guard-window", "-5s", "--expected-version", "1"});
  EXPECT_EQ(negative.code, 2) << negative.output;
  EXPECT_EQ(Flag().version(), 1u);
}

}  // namespace
}  // namespace sluice::testing
