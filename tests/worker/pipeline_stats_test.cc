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
  result.kafka_items = 10;
  result.kafka_dead_letters = 1;
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

TEST(PipelineStatsTest, SplitsByPath) {
  PipelineStats stats;
  const absl::Time now = absl::FromUnixSeconds(1000);
  Batch batch;
  Message kafka{"t", 0, 0, std::nullopt, std::string("x"), now - absl::Milliseconds(100)};
  Message legacy{"t", 0, 1, std::nullopt, std::string("y"), now - absl::Milliseconds(700)};
  legacy.path = Path::kLegacy;
  batch.messages = {kafka, legacy};
  WriteResult result;
  result.kafka_items = 1;
  result.legacy_items = 1;
  result.legacy_dead_letters = 1;
  stats.BatchCommitted(batch, result, absl::Milliseconds(5), now);
  v1::PipelineStats s = stats.Take("items", 1);
  ASSERT_EQ(s.paths_size(), 2);
  EXPECT_EQ(s.paths(0).path(), "kafka");
  EXPECT_EQ(s.paths(0).items(), 1u);
  EXPECT_EQ(s.paths(0).dead_letters(), 0u);
  EXPECT_DOUBLE_EQ(s.paths(0).freshness_p99_ms(), 100);
  EXPECT_EQ(s.paths(1).path(), "legacy");
  EXPECT_EQ(s.paths(1).dead_letters(), 1u);
  EXPECT_DOUBLE_EQ(s.paths(1).freshness_p99_ms(), 700);
  EXPECT_DOUBLE_EQ(s.paths(1).write_latency_p99_ms(), 5);
  EXPECT_EQ(stats.Take("items", 1).paths_size(), 0);
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
