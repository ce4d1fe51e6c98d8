#include "worker/lag_status.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

const TopicPartition kP{"items", 0};

class LagStatusTest : public ::testing::Test {
 protected:
  // Samples once a second for `seconds`, the lag and committed offset given by
  // `at(i)`; returns the last status.
  template <typename At>
  v1::LagStatus Run(int seconds, At at, bool blocked = false) {
    v1::LagStatus s = v1::LAG_STATUS_UNSPECIFIED;
    for (int i = 0; i < seconds; ++i) {
      const auto [lag, committed] = at(i);
      s = tracker_.Sample(kP, now_, lag, committed, blocked);
      now_ += absl::Seconds(1);
    }
    return s;
  }

  LagStatusTracker tracker_{absl::Seconds(30)};
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST_F(LagStatusTest, CaughtUpIsOkAtOnce) {
  EXPECT_EQ(Run(1, [](int) { return std::pair<int64_t, int64_t>{0, 10}; }), v1::LAG_STATUS_OK);
}

TEST_F(LagStatusTest, ALagThatShrinksOrTouchesZeroIsOk) {
  EXPECT_EQ(Run(40,
                [](int i) {
                  return std::pair<int64_t, int64_t>{1000 - i, 10 + i};
                }),
            v1::LAG_STATUS_OK);
  // Growing, but caught up 20 s ago: still inside the window.
  EXPECT_EQ(Run(1, [](int) { return std::pair<int64_t, int64_t>{0, 100}; }), v1::LAG_STATUS_OK);
  EXPECT_EQ(Run(20,
                [](int i) {
                  return std::pair<int64_t, int64_t>{5 + i, 100 + i};
                }),
            v1::LAG_STATUS_OK);
}

TEST_F(LagStatusTest, GrowingThroughAWindowWhileCommittingIsWarn) {
  // Not judged before a whole window of samples.
  EXPECT_EQ(Run(10,
                [](int i) {
                  return std::pair<int64_t, int64_t>{100 + 10 * i, 5 * i};
                }),
            v1::LAG_STATUS_UNSPECIFIED);
  EXPECT_EQ(Run(30,
                [](int i) {
                  return std::pair<int64_t, int64_t>{200 + 10 * i, 50 + 5 * i};
                }),
            v1::LAG_STATUS_WARN);
}

TEST_F(LagStatusTest, NoProgressThroughAWindowIsStall) {
  EXPECT_EQ(Run(31,
                [](int i) {
                  return std::pair<int64_t, int64_t>{50 + i, 7};
                }),
            v1::LAG_STATUS_STALL);
  // One commit moves it back to judging the trend.
  EXPECT_EQ(Run(1, [](int) { return std::pair<int64_t, int64_t>{60, 8}; }), v1::LAG_STATUS_WARN);
}

TEST_F(LagStatusTest, BlockedWithLagIsStopAndUnknownLagIsUnspecified) {
  EXPECT_EQ(Run(
                1,
                [](int) {
                  return std::pair<int64_t, int64_t>{3, 7};
                },
                /*blocked=*/true),
            v1::LAG_STATUS_STOP);
  EXPECT_EQ(Run(
                1,
                [](int) {
                  return std::pair<int64_t, int64_t>{0, 7};
                },
                /*blocked=*/true),
            v1::LAG_STATUS_OK);
  EXPECT_EQ(Run(1,
                [](int) {
                  return std::pair<int64_t, int64_t>{-1, 7};
                }),
            v1::LAG_STATUS_UNSPECIFIED);
}

TEST_F(LagStatusTest, ForgottenPartitionsStartOver) {
  Run(31, [](int i) { return std::pair<int64_t, int64_t>{50 + i, 7}; });
  tracker_.Retain({});
  EXPECT_EQ(tracker_.Sample(kP, now_, 90, 7, false), v1::LAG_STATUS_UNSPECIFIED);
}

}  // namespace
}  // namespace sluice::worker
