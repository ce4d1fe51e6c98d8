#include "worker/pipeline_stats.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

TEST(PipelineStatsTest, TakeReturnsDeltasAndStartsOver) {
  PipelineStats stats;
  Batch batch;
  const absl::Time now = absl::FromUnixSeconds(1000);
  batch.reason = ::sluice::v1::FLUSH_REASON_ROWS;
  batch.messages.push_back(
      Message{"t", 0, 0, std::nullopt, std::string("x"), now - absl::Milliseconds(300)});
  WriteResult result;
  result.partitions[{"t", 0}] = {9, 90, 1};
  stats.BatchCommitted(batch, result, absl::Milliseconds(12), now);
  stats.Retried();
  stats.SetLag({{{"t", 0}, 42}});
  v1::PipelineStats s = stats.Take("items", 3);
  EXPECT_EQ(s.pipeline(), "items");
  EXPECT_EQ(s.pipeline_version(), 3u);
  ASSERT_EQ(s.partitions_size(), 1);
  EXPECT_EQ(s.partitions(0).rows(), 9u);
  EXPECT_EQ(s.partitions(0).bytes(), 90u);
  EXPECT_EQ(s.partitions(0).dead_letters(), 1u);
  EXPECT_EQ(s.partitions(0).consumer_lag(), 42);
  EXPECT_EQ(s.batches(), 1u);
  EXPECT_EQ(s.batches_by_reason().at(::sluice::v1::FLUSH_REASON_ROWS), 1u);
  EXPECT_EQ(s.retries(), 1u);
  EXPECT_DOUBLE_EQ(s.write_latency_p99_ms(), 12);
  EXPECT_DOUBLE_EQ(s.freshness_p99_ms(), 300);
  v1::PipelineStats empty = stats.Take("items", 3);
  EXPECT_EQ(empty.batches(), 0u);
  EXPECT_EQ(empty.retries(), 0u);
  ASSERT_EQ(empty.partitions_size(), 1);  // lag is a gauge: still reported
  EXPECT_EQ(empty.partitions(0).rows(), 0u);
}

TEST(QuantileTest, NearestRank) {
  EXPECT_EQ(Quantile({}, 0.99), 0);
  EXPECT_EQ(Quantile({5}, 0.5), 5);
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) hundred.push_back(i);
  EXPECT_EQ(Quantile(hundred, 0.99), 99);
  EXPECT_EQ(Quantile(hundred, 0.5), 50);
}

}  // namespace
}  // namespace sluice::worker
