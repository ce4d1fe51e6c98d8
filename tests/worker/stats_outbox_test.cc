#include "worker/stats_outbox.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

// One interval of pipeline `name`: `rows` rows on t/0, lag `lag`, one batch.
v1::PipelineStats Interval(const std::string& name, uint64_t version, uint64_t rows, int64_t lag,
                           double p99_ms) {
  v1::PipelineStats s;
  s.set_pipeline(name);
  s.set_pipeline_version(version);
  v1::PartitionStats* p = s.add_partitions();
  p->set_topic("t");
  p->set_partition(0);
  p->set_rows(rows);
  p->set_bytes(rows * 10);
  p->set_dead_letters(1);
  p->set_consumer_lag(lag);
  p->set_consumer_lag_seconds(lag * 0.5);
  p->set_lag_status(lag > 0 ? v1::LAG_STATUS_WARN : v1::LAG_STATUS_OK);
  (*s.mutable_batches_by_reason())[v1::FLUSH_REASON_ROWS] = 1;
  s.set_batches(1);
  s.set_retries(2);
  s.set_kafka_path_items(rows);
  s.set_legacy_path_items(3);
  s.set_write_latency_p50_ms(p99_ms / 2);
  s.set_write_latency_p99_ms(p99_ms);
  s.set_freshness_p99_ms(p99_ms * 10);
  v1::PathStats* path = s.add_paths();
  path->set_path("kafka");
  path->set_items(rows);
  path->set_dead_letters(1);
  path->set_write_latency_p99_ms(p99_ms);
  path->set_freshness_p99_ms(p99_ms * 10);
  return s;
}

TEST(StatsOutboxTest, ManyIntervalsUnsentFoldIntoOneEntryPerPipelineVersion) {
  StatsOutbox outbox(42, 100);
  const int kIntervals = 10000;
  for (int i = 1; i <= kIntervals; ++i) {
    outbox.Add({Interval("a", 1, i, i, i % 7), Interval("b", 4, 1, -1, 1)});
    ASSERT_EQ(outbox.pending().size(), 2u);
  }
  const std::vector<v1::PipelineStats> pending = outbox.pending();
  const v1::PipelineStats& a = pending[0];
  EXPECT_EQ(a.pipeline(), "a");
  ASSERT_EQ(a.partitions_size(), 1);
  const uint64_t sum = uint64_t{kIntervals} * (kIntervals + 1) / 2;
  EXPECT_EQ(a.partitions(0).rows(), sum);
  EXPECT_EQ(a.partitions(0).bytes(), sum * 10);
  EXPECT_EQ(a.partitions(0).dead_letters(), uint64_t{kIntervals});
  EXPECT_EQ(a.partitions(0).consumer_lag(), kIntervals);  // the latest
  EXPECT_DOUBLE_EQ(a.partitions(0).consumer_lag_seconds(), kIntervals * 0.5);
  EXPECT_EQ(a.partitions(0).lag_status(), v1::LAG_STATUS_WARN);
  EXPECT_EQ(a.batches(), uint64_t{kIntervals});
  EXPECT_EQ(a.batches_by_reason().at(v1::FLUSH_REASON_ROWS), uint64_t{kIntervals});
  EXPECT_EQ(a.retries(), 2u * kIntervals);
  EXPECT_EQ(a.kafka_path_items(), sum);
  EXPECT_EQ(a.legacy_path_items(), 3u * kIntervals);
  EXPECT_DOUBLE_EQ(a.write_latency_p99_ms(), 6);  // the largest of the intervals'
  EXPECT_DOUBLE_EQ(a.write_latency_p50_ms(), 3);
  EXPECT_DOUBLE_EQ(a.freshness_p99_ms(), 60);
  ASSERT_EQ(a.paths_size(), 1);
  EXPECT_EQ(a.paths(0).items(), sum);
  EXPECT_EQ(a.paths(0).dead_letters(), uint64_t{kIntervals});
  EXPECT_DOUBLE_EQ(a.paths(0).write_latency_p99_ms(), 6);
  EXPECT_EQ(pending[1].pipeline(), "b");
  EXPECT_EQ(pending[1].partitions(0).rows(), uint64_t{kIntervals});
  EXPECT_EQ(pending[1].partitions(0).consumer_lag(), -1);

  const v1::StatsReport& r = outbox.Next(absl::FromUnixSeconds(50));
  EXPECT_EQ(r.sequence(), 100u);
  EXPECT_EQ(r.interval_end().seconds(), 50);
  ASSERT_EQ(r.pipelines_size(), 2);
  EXPECT_EQ(r.pipelines(0).partitions(0).rows(), sum);
  EXPECT_TRUE(outbox.pending().empty());
}

TEST(StatsOutboxTest, AReportThatMayHaveArrivedIsResentUnchangedAndNeverMergedInto) {
  StatsOutbox outbox(42, 7);
  outbox.Add({Interval("a", 1, 5, 9, 1)});
  const v1::StatsReport first = outbox.Next(absl::FromUnixSeconds(10));
  EXPECT_EQ(first.sequence(), 7u);
  // The write failed: the controller may or may not have counted it.
  outbox.Add({Interval("a", 1, 11, 8, 1)});
  outbox.Add({Interval("a", 1, 13, 7, 1)});
  const v1::StatsReport again = outbox.Next(absl::FromUnixSeconds(20));
  EXPECT_EQ(again.SerializeAsString(), first.SerializeAsString());
  outbox.Sent();
  const v1::StatsReport& second = outbox.Next(absl::FromUnixSeconds(30));
  EXPECT_EQ(second.sequence(), 8u);
  EXPECT_EQ(second.interval_end().seconds(), 30);
  ASSERT_EQ(second.pipelines_size(), 1);
  EXPECT_EQ(second.pipelines(0).partitions(0).rows(), 24u);
  EXPECT_EQ(second.pipelines(0).partitions(0).consumer_lag(), 7);
  outbox.Sent();
  // Nothing pending: a report with no pipelines, under the next sequence.
  EXPECT_EQ(outbox.Next(absl::FromUnixSeconds(40)).sequence(), 9u);
  EXPECT_EQ(outbox.Next(absl::FromUnixSeconds(40)).pipelines_size(), 0);
}

TEST(StatsOutboxTest, VersionsOfAPipelineStaySeparate) {
  StatsOutbox outbox(42, 1);
  outbox.Add({Interval("a", 1, 5, 9, 1)});
  outbox.Add({Interval("a", 2, 6, 9, 1)});
  const std::vector<v1::PipelineStats> pending = outbox.pending();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].pipeline_version(), 1u);
  EXPECT_EQ(pending[0].partitions(0).rows(), 5u);
  EXPECT_EQ(pending[1].pipeline_version(), 2u);
  EXPECT_EQ(pending[1].partitions(0).rows(), 6u);
}

TEST(MergePipelineStatsTest, LagIsTheLaterIntervalsAndNewPartitionsAndPathsJoin) {
  v1::PipelineStats into = Interval("a", 1, 5, 9, 1);
  v1::PipelineStats later;
  v1::PartitionStats* p = later.add_partitions();
  p->set_topic("t");
  p->set_partition(1);
  p->set_rows(4);
  p->set_consumer_lag(2);
  v1::PathStats* legacy = later.add_paths();
  legacy->set_path("legacy");
  legacy->set_items(4);
  MergePipelineStats(later, &into);
  ASSERT_EQ(into.partitions_size(), 2);
  EXPECT_EQ(into.partitions(0).rows(), 5u);
  EXPECT_EQ(into.partitions(0).consumer_lag(), -1);  // not reported by the later one
  EXPECT_EQ(into.partitions(1).rows(), 4u);
  EXPECT_EQ(into.partitions(1).consumer_lag(), 2);
  ASSERT_EQ(into.paths_size(), 2);
  EXPECT_EQ(into.paths(1).path(), "legacy");
  EXPECT_EQ(into.paths(1).items(), 4u);
}

}  // namespace
}  // namespace sluice::worker
