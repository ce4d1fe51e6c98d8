#include "worker/adaptive_timeout.h"

#include <algorithm>

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

// A pipeline as the loop sees it: a batch is handed over `timeout` after its first
// message and takes `write` to commit, so its oldest message is timeout + write
// old at the commit. Runs `seconds` of batches; returns the largest freshness of
// the last `tail` seconds.
class Plant {
 public:
  explicit Plant(AdaptiveTimeout* a) : a_(a) {}
  absl::Duration Run(absl::Duration seconds, absl::Duration write, absl::Duration tail) {
    const absl::Time end = now_ + seconds;
    absl::Duration worst = absl::ZeroDuration();
    while (now_ < end) {
      const absl::Duration freshness = a_->timeout() + write;
      const absl::Time opened = now_;
      now_ += freshness;
      batches_++;
      if (now_ > end - tail) worst = std::max(worst, freshness);
      a_->Observe(now_, freshness, opened);
    }
    return worst;
  }
  int batches() const { return batches_; }

 private:
  AdaptiveTimeout* a_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  int batches_ = 0;
};

TEST(AdaptiveTimeoutTest, BoundsFollowTheTarget) {
  AdaptiveTimeout::Options o = AdaptiveTimeout::ForTarget(absl::Seconds(2));
  EXPECT_EQ(o.floor, absl::Milliseconds(100));
  EXPECT_EQ(o.ceiling, absl::Milliseconds(1200));
  o = AdaptiveTimeout::ForTarget(absl::Milliseconds(100));
  EXPECT_EQ(o.floor, absl::Milliseconds(10));
  EXPECT_EQ(o.ceiling, absl::Milliseconds(60));
}

// While the target holds the timeout lengthens (fewer, larger transactions than
// the 150 ms default), and freshness stays under the target.
TEST(AdaptiveTimeoutTest, LengthensBatchesWhileTheTargetHolds) {
  AdaptiveTimeout a(AdaptiveTimeout::ForTarget(absl::Seconds(2)), absl::Milliseconds(150));
  Plant plant(&a);
  const absl::Duration worst =
      plant.Run(absl::Seconds(60), absl::Milliseconds(50), absl::Seconds(30));
  EXPECT_LT(worst, absl::Seconds(2));
  EXPECT_GE(a.timeout(), absl::Milliseconds(900));
  EXPECT_LE(a.timeout(), absl::Milliseconds(1200));
}

// A step change (PostgreSQL slows: each write takes 900 ms instead of 50) is
// absorbed within 30 s: the timeout is cut and freshness is back under target.
TEST(AdaptiveTimeoutTest, ConvergesWithinThirtySecondsOfAStepChange) {
  AdaptiveTimeout a(AdaptiveTimeout::ForTarget(absl::Seconds(2)), absl::Milliseconds(150));
  Plant plant(&a);
  plant.Run(absl::Seconds(60), absl::Milliseconds(50), absl::Seconds(1));
  const absl::Duration before = a.timeout();
  // The first batches after the step are late; 30 s later none is.
  plant.Run(absl::Seconds(30), absl::Milliseconds(900), absl::Seconds(0));
  const absl::Duration after =
      plant.Run(absl::Seconds(30), absl::Milliseconds(900), absl::Seconds(30));
  EXPECT_LT(after, absl::Seconds(2)) << absl::FormatDuration(a.timeout());
  EXPECT_LT(a.timeout(), before);
  // And back: writes fast again, the timeout grows again.
  plant.Run(absl::Seconds(60), absl::Milliseconds(50), absl::Seconds(1));
  EXPECT_GE(a.timeout(), absl::Milliseconds(900));
}

// A target the timeout cannot reach (each write alone takes longer) is not chased
// down to the floor: that would only add transactions.
TEST(AdaptiveTimeoutTest, AnUnreachableTargetLeavesTheTimeoutAlone) {
  AdaptiveTimeout a(AdaptiveTimeout::ForTarget(absl::Seconds(1)), absl::Milliseconds(300));
  Plant plant(&a);
  plant.Run(absl::Seconds(30), absl::Seconds(2), absl::Seconds(1));
  EXPECT_EQ(a.timeout(), absl::Milliseconds(300));
}

// Batches opened before a change do not count against the new timeout.
TEST(AdaptiveTimeoutTest, BatchesOfTheOldTimeoutDoNotCount) {
  AdaptiveTimeout a(AdaptiveTimeout::ForTarget(absl::Seconds(2)), absl::Milliseconds(1000));
  absl::Time now = absl::FromUnixSeconds(1700000000);
  a.Observe(now, absl::Milliseconds(1700), now - absl::Milliseconds(1700));  // cut
  ASSERT_EQ(a.timeout(), absl::Milliseconds(500));
  // Later: a batch that was opened before the cut commits, as late.
  now += absl::Seconds(2);
  a.Observe(now, absl::Milliseconds(1700), now - absl::Seconds(3));
  EXPECT_EQ(a.timeout(), absl::Milliseconds(500));
}

TEST(AdaptiveTimeoutTest, NeverLeavesItsBounds) {
  AdaptiveTimeout a(AdaptiveTimeout::ForTarget(absl::Milliseconds(200)), absl::Seconds(5));
  EXPECT_EQ(a.timeout(), absl::Milliseconds(120));  // clamped start
  absl::Time now = absl::FromUnixSeconds(1700000000);
  for (int i = 0; i < 100; ++i) {
    now += absl::Seconds(1);
    a.Observe(now, absl::Milliseconds(170));  // too late for a 200 ms target
  }
  EXPECT_EQ(a.timeout(), absl::Milliseconds(10));
}

}  // namespace
}  // namespace sluice::worker
