#include "tools/fleetsim/latency_summary.h"

#include <gtest/gtest.h>

namespace sluice::fleetsim {
namespace {

TEST(LatencySummaryTest, NoSamplesGiveZeros) {
  const LatencySummary s = Summarize({});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.p50_ms, 0);
  EXPECT_EQ(s.p99_ms, 0);
  EXPECT_EQ(s.max_ms, 0);
  EXPECT_EQ(FormatSummary(s), "no samples");
}

TEST(LatencySummaryTest, OneSampleIsEveryPercentile) {
  const LatencySummary s = Summarize({7.5});
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.p50_ms, 7.5);
  EXPECT_EQ(s.p99_ms, 7.5);
  EXPECT_EQ(s.max_ms, 7.5);
}

// Nearest rank: p50 of 1..100 is the 50th value and p99 the 99th, never an
// interpolation; the input order does not matter.
TEST(LatencySummaryTest, NearestRankOfUnsortedSamples) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  const LatencySummary s = Summarize(samples);
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.p50_ms, 50);
  EXPECT_EQ(s.p99_ms, 99);
  EXPECT_EQ(s.max_ms, 100);
}

// With fewer than 100 samples p99 is the maximum: one slow stream in 50 shows.
TEST(LatencySummaryTest, P99OfFewSamplesIsTheSlowest) {
  std::vector<double> samples(49, 1.0);
  samples.push_back(250.0);
  const LatencySummary s = Summarize(samples);
  EXPECT_EQ(s.p50_ms, 1.0);
  EXPECT_EQ(s.p99_ms, 250.0);
}

// A push can arrive before SetFlag's answer: negative latencies are kept.
TEST(LatencySummaryTest, NegativeSamplesAreKept) {
  const LatencySummary s = Summarize({-3.0, -1.0, 2.0});
  EXPECT_EQ(s.p50_ms, -1.0);
  EXPECT_EQ(s.max_ms, 2.0);
}

TEST(LatencySummaryTest, Json) {
  EXPECT_EQ(SummaryJson(Summarize({1, 2})),
            R"({"count":2,"p50_ms":1.000,"p99_ms":2.000,"max_ms":2.000})");
}

}  // namespace
}  // namespace sluice::fleetsim
