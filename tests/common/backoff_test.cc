#include "common/backoff.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(ExponentialBackoffTest, GrowsWithJitterAndCaps) {
  ExponentialBackoff b(absl::Milliseconds(100), absl::Seconds(1));
  for (int attempt = 0; attempt < 20; ++attempt) {
    const absl::Duration ceiling =
        std::min(absl::Milliseconds(100) * (1 << std::min(attempt, 10)), absl::Seconds(1));
    const absl::Duration d = b.NextDelay();
    EXPECT_GE(d, ceiling / 2) << attempt;
    EXPECT_LE(d, ceiling) << attempt;
  }
  EXPECT_EQ(b.attempts(), 20);
  b.Reset();
  EXPECT_LE(b.NextDelay(), absl::Milliseconds(100));
}

TEST(ExponentialBackoffTest, DelaysAreNotAllEqual) {
  ExponentialBackoff b(absl::Seconds(1), absl::Seconds(1));
  absl::Duration first = b.NextDelay();
  bool differs = false;
  for (int i = 0; i < 20 && !differs; ++i) differs = b.NextDelay() != first;
  EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace sluice
