#include "worker/dead_letter_rate_guard.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(DeadLetterRateGuardTest, TripsAboveTheRateOverTheWindowOnly) {
  DeadLetterRateGuard guard(0.01, absl::Minutes(5));
  // Too few items for a rate: 5 of 50.
  EXPECT_EQ(guard.Record(kT0, 50, 5), std::nullopt);
  // 5 of 1,050 (0.48%).
  EXPECT_EQ(guard.Record(kT0 + absl::Seconds(10), 1000, 0), std::nullopt);
  // 15 of 1,550 (0.97%): at the edge, still within.
  EXPECT_EQ(guard.Record(kT0 + absl::Seconds(20), 500, 10), std::nullopt);
  // 17 of 1,560: above.
  std::optional<std::string> over = guard.Record(kT0 + absl::Seconds(30), 10, 2);
  ASSERT_TRUE(over.has_value());
  EXPECT_EQ(*over,
            "bad rows: 17 dead letters in the last 5m are 1.09% of 1560 items, above the "
            "pipeline's tolerance of 1.00% (bad_rows.max_rate); the dead letters are in "
            "sluice_dead_letters");
}

TEST(DeadLetterRateGuardTest, OldBatchesLeaveTheWindow) {
  DeadLetterRateGuard guard(0.5, absl::Seconds(60));
  EXPECT_EQ(guard.Record(kT0, 100, 50), std::nullopt);                     // 50%
  EXPECT_EQ(guard.Record(kT0 + absl::Seconds(59), 100, 0), std::nullopt);  // 25%
  // The first batch left the window: 60 of 200 is 30%... then 110 of 200 is 55%.
  EXPECT_EQ(guard.Record(kT0 + absl::Seconds(60), 100, 60), std::nullopt);
  EXPECT_TRUE(guard.Record(kT0 + absl::Seconds(61), 100, 100).has_value());
}

TEST(DeadLetterRateGuardTest, ARateOfZeroNeverTrips) {
  DeadLetterRateGuard guard(0, absl::Minutes(5));
  EXPECT_EQ(guard.Record(kT0, 1000, 1000), std::nullopt);
}

}  // namespace
}  // namespace sluice::worker
