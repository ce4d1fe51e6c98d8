#include "controller/stats_aggregator.h"

#include "common/proto_time.h"

#include "gtest/gtest.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::ManualClock;

v1::StatsReport Report(uint64_t sequence, const std::string& pipeline, uint64_t rows,
                       int64_t lag = 5, double p99 = 10) {
  v1::StatsReport r;
  r.set_sequence(sequence);
  v1::PipelineStats* p = r.add_pipelines();
  p->set_pipeline(pipeline);
  p->set_batches(1);
  p->set_write_latency_p99_ms(p99);
  v1::PartitionStats* part = p->add_partitions();
  part->set_topic("items");
  part->set_partition(0);
  part->set_rows(rows);
  part->set_bytes(rows * 10);
  part->set_consumer_lag(lag);
  return r;
}

TEST(StatsAggregatorTest, GroupsByWorkerPipelineAndVersion) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  ASSERT_TRUE(stats.Add("w1", "1.0", Report(1, "items", 100)));
  v1::StatsReport w2 = Report(1, "items", 50, 7, 30);
  w2.mutable_pipelines(0)->mutable_partitions(0)->set_partition(1);  // the group splits them
  ASSERT_TRUE(stats.Add("w2", "1.1", w2));
  ASSERT_TRUE(stats.Add("w2", "1.1", Report(2, "other", 25)));
  auto by_version = stats.Query(v1::STATS_GROUP_BY_VERSION, absl::Seconds(100));
  ASSERT_EQ(by_version.size(), 2u);
  EXPECT_EQ(by_version[0].key(), "1.0");
  EXPECT_EQ(by_version[0].rows(), 100u);
  EXPECT_DOUBLE_EQ(by_version[0].rows_per_second(), 1.0);
  EXPECT_EQ(by_version[1].rows(), 75u);
  auto by_pipeline = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(100));
  ASSERT_EQ(by_pipeline.size(), 2u);
  EXPECT_EQ(by_pipeline[0].key(), "items");
  EXPECT_EQ(by_pipeline[0].rows(), 150u);
  EXPECT_EQ(by_pipeline[0].consumer_lag(), 12);  // latest lag of each worker's partition
  EXPECT_DOUBLE_EQ(by_pipeline[0].write_latency_p99_ms(), 30);
  auto by_worker = stats.Query(v1::STATS_GROUP_BY_WORKER, absl::Seconds(100));
  ASSERT_EQ(by_worker.size(), 2u);
  EXPECT_EQ(by_worker[1].key(), "w2");
  EXPECT_EQ(by_worker[1].batches(), 2u);
}

// Issue 12: the lag in seconds of a row is its partitions' largest; unknown (-1,
// or absent in a report of an older worker with messages waiting) counts as none.
TEST(StatsAggregatorTest, LagInSecondsIsThePartitionsLargestKnown) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  v1::StatsReport a = Report(1, "items", 10, 5);
  a.mutable_pipelines(0)->mutable_partitions(0)->set_consumer_lag_seconds(2.5);
  v1::StatsReport b = Report(1, "items", 10, 3);
  b.mutable_pipelines(0)->mutable_partitions(0)->set_consumer_lag_seconds(0.5);
  b.mutable_pipelines(0)->mutable_partitions(0)->set_partition(1);
  v1::StatsReport older = Report(1, "other", 10, 3);  // no lag in seconds: unknown
  ASSERT_TRUE(stats.Add("w1", "1.0", a));
  ASSERT_TRUE(stats.Add("w2", "1.0", b));
  ASSERT_TRUE(stats.Add("w3", "0.9", older));
  auto by_pipeline = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(100));
  ASSERT_EQ(by_pipeline.size(), 2u);
  EXPECT_DOUBLE_EQ(by_pipeline[0].consumer_lag_seconds(), 2.5);
  EXPECT_DOUBLE_EQ(by_pipeline[1].consumer_lag_seconds(), -1);
}

// Issue 12: STOP judged by the controller. A worker that stopped reporting
// commits nothing; its partitions, unless another worker reports them since, show
// STOP, whatever the window, with the silence added to their lag in seconds.
TEST(StatsAggregatorTest, PartitionsOfASilentWorkerShowStop) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1), /*silent_after=*/absl::Seconds(15));
  v1::StatsReport r = Report(1, "items", 10, 5);
  r.mutable_pipelines(0)->mutable_partitions(0)->set_consumer_lag_seconds(2);
  r.mutable_pipelines(0)->mutable_partitions(0)->set_lag_status(v1::LAG_STATUS_OK);
  ASSERT_TRUE(stats.Add("w1", "1.0", r));
  clock.Advance(absl::Seconds(10));
  auto rows = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(60));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].lag_status(), v1::LAG_STATUS_OK);  // not silent yet
  clock.Advance(absl::Seconds(10));
  rows = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(60));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].lag_status(), v1::LAG_STATUS_STOP);
  EXPECT_EQ(rows[0].consumer_lag(), 5);
  EXPECT_DOUBLE_EQ(rows[0].consumer_lag_seconds(), 22);
  // A window that no longer holds its rows still shows the stopped partition.
  clock.Advance(absl::Minutes(2));
  rows = stats.Query(v1::STATS_GROUP_BY_WORKER, absl::Seconds(60));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key(), "w1");
  EXPECT_EQ(rows[0].rows(), 0u);
  EXPECT_EQ(rows[0].lag_status(), v1::LAG_STATUS_STOP);
}

// A partition another worker reports since (a rebalance) is that worker's: the
// old owner's last figure neither adds to the lag nor turns it STOP.
TEST(StatsAggregatorTest, APartitionReportedByAnotherWorkerSinceIsNotTheSilentOnes) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1), /*silent_after=*/absl::Seconds(15));
  ASSERT_TRUE(stats.Add("w1", "1.0", Report(1, "items", 10, 50)));
  clock.Advance(absl::Seconds(5));
  ASSERT_TRUE(stats.Add("w2", "1.0", Report(1, "items", 10, 3)));
  auto rows = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(60));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].consumer_lag(), 3);  // not 53
  clock.Advance(absl::Seconds(20));
  ASSERT_TRUE(stats.Add("w2", "1.0", Report(2, "items", 10, 2)));
  rows = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(60));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].consumer_lag(), 2);
  EXPECT_NE(rows[0].lag_status(), v1::LAG_STATUS_STOP);
}

// A worker that still reports but no longer holds a partition (the pipeline moved
// away or was deleted) let it go: nothing of it is shown once the window passes.
TEST(StatsAggregatorTest, APartitionAWorkerNoLongerReportsIsNotStopped) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1), /*silent_after=*/absl::Seconds(15));
  ASSERT_TRUE(stats.Add("w1", "1.0", Report(1, "old", 10, 5)));
  for (int i = 2; i < 10; ++i) {
    clock.Advance(absl::Seconds(5));
    ASSERT_TRUE(stats.Add("w1", "1.0", Report(i, "items", 10, 0)));
  }
  auto rows = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(60));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].key(), "old");  // its rows are still in the window
  EXPECT_EQ(rows[1].consumer_lag(), 0);
  EXPECT_NE(rows[1].lag_status(), v1::LAG_STATUS_STOP);
  EXPECT_NE(rows[0].lag_status(), v1::LAG_STATUS_STOP);
}

// Review finds: a worker whose lag turns unknown still holds the partition; two
// reports of one partition in the same instant count once; past the retention a
// silent worker's partitions are forgotten even if nobody reports anything.
TEST(StatsAggregatorTest, SilentWorkerEdges) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Minutes(10), /*silent_after=*/absl::Seconds(15));
  ASSERT_TRUE(stats.Add("w1", "1.0", Report(1, "items", 10, 5)));
  ASSERT_TRUE(stats.Add("w2", "1.0", Report(1, "items", 10, 7)));  // same instant
  auto rows = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(60));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].consumer_lag(), 7);  // one figure (the worker interned last), not 12
  for (int i = 2; i < 8; ++i) {
    clock.Advance(absl::Seconds(5));
    ASSERT_TRUE(stats.Add("w2", "1.0", Report(i, "items", 0, /*lag=*/-1)));  // unknown now
  }
  rows = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(60));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].consumer_lag(), 7);  // the last known figure; not let go
  clock.Advance(absl::Minutes(11));
  EXPECT_TRUE(stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(60)).empty());
}

// The totals behind sluice_controller_rows_reported_total only grow: a Clear()
// (another replica led meanwhile) forgets the buckets, not the totals.
TEST(StatsAggregatorTest, RowsReportedOnlyGrow) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  ASSERT_TRUE(stats.Add("w1", "1.0", Report(1, "items", 100)));
  ASSERT_TRUE(stats.Add("w2", "1.0", Report(1, "items", 20)));
  ASSERT_FALSE(stats.Add("w2", "1.0", Report(1, "items", 20)));  // counted once
  stats.Clear();
  ASSERT_TRUE(stats.Add("w1", "1.1", Report(2, "items", 5)));
  const auto totals = stats.RowsReported();
  ASSERT_EQ(totals.size(), 2u);
  EXPECT_EQ(totals.at({"items", "1.0"}), 120u);
  EXPECT_EQ(totals.at({"items", "1.1"}), 5u);
}

// Sequences alone were compared per worker id: a second process with the same id
// (or one restarted with a clock set back) had its reports dropped as "already
// counted".
TEST(StatsAggregatorTest, EachIncarnationOfAWorkerIdIsDeduplicatedOnItsOwn) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  v1::StatsReport first = Report(500, "items", 100);
  first.set_incarnation(1);
  ASSERT_TRUE(stats.Add("w1", "1.0", first));
  v1::StatsReport other = Report(1, "items", 7);
  other.set_incarnation(2);
  EXPECT_TRUE(stats.Add("w1", "1.0", other));
  // Re-sent on a new stream: counted once.
  EXPECT_FALSE(stats.Add("w1", "1.0", other));
  EXPECT_FALSE(stats.Add("w1", "1.0", first));
  auto rows = stats.Query(v1::STATS_GROUP_BY_WORKER, absl::Seconds(100));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].rows(), 107u);
}

TEST(StatsAggregatorTest, AReportOlderThanTheRetentionIsNotCountedAgain) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Minutes(10));
  v1::StatsReport r = Report(3, "items", 1);
  r.set_incarnation(9);
  *r.mutable_interval_end() = ToProtoTimestamp(clock.Now());
  ASSERT_TRUE(stats.Add("w1", "1.0", r));
  clock.Advance(absl::Minutes(11));
  v1::StatsReport later = Report(4, "items", 1);
  later.set_incarnation(10);
  ASSERT_TRUE(stats.Add("w1", "1.0", later));
  // The old incarnation's memory went with its samples; a report re-sent that
  // late is older than the retention, and not counted again.
  EXPECT_FALSE(stats.Add("w1", "1.0", r));
}

TEST(StatsAggregatorTest, GroupsByPath) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  v1::StatsReport r = Report(1, "items", 100);
  r.mutable_pipelines(0)->set_kafka_path_items(60);
  r.mutable_pipelines(0)->set_legacy_path_items(40);
  v1::PathStats* k = r.mutable_pipelines(0)->add_paths();
  k->set_path("kafka");
  k->set_items(60);
  k->set_dead_letters(3);
  k->set_write_latency_p99_ms(12);
  k->set_freshness_p99_ms(250);
  v1::PathStats* l = r.mutable_pipelines(0)->add_paths();
  l->set_path("legacy");
  l->set_items(40);
  l->set_freshness_p99_ms(90);
  ASSERT_TRUE(stats.Add("w1", "1.0", r));
  auto by_path = stats.Query(v1::STATS_GROUP_BY_PATH, absl::Seconds(10));
  ASSERT_EQ(by_path.size(), 2u);
  EXPECT_EQ(by_path[0].key(), "kafka");
  EXPECT_EQ(by_path[0].rows(), 60u);
  EXPECT_EQ(by_path[0].dead_letters(), 3u);
  EXPECT_DOUBLE_EQ(by_path[0].write_latency_p99_ms(), 12);
  EXPECT_DOUBLE_EQ(by_path[0].freshness_p99_ms(), 250);
  EXPECT_DOUBLE_EQ(by_path[0].rows_per_second(), 6.0);
  EXPECT_EQ(by_path[1].key(), "legacy");
  EXPECT_EQ(by_path[1].rows(), 40u);
  EXPECT_EQ(by_path[1].dead_letters(), 0u);
  EXPECT_DOUBLE_EQ(by_path[1].freshness_p99_ms(), 90);
  // The guards see the Kafka path only.
  StatsAggregator::PathHealth h = stats.Health({"items"}, absl::Seconds(10));
  EXPECT_EQ(h.kafka_items, 60u);
  EXPECT_EQ(h.dead_letters, 3u);
  EXPECT_DOUBLE_EQ(h.freshness_p99_ms, 250);
  auto by_pipeline = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(10));
  EXPECT_EQ(by_pipeline[0].kafka_path_items(), 60u);
  EXPECT_EQ(by_pipeline[0].legacy_path_items(), 40u);
}

TEST(StatsAggregatorTest, AReportIsCountedOnce) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  EXPECT_TRUE(stats.Add("w1", "1.0", Report(5, "items", 100)));
  EXPECT_FALSE(stats.Add("w1", "1.0", Report(5, "items", 100)));  // re-sent after reconnect
  EXPECT_FALSE(stats.Add("w1", "1.0", Report(4, "items", 100)));
  EXPECT_TRUE(stats.Add("w1", "1.0", Report(6, "items", 1)));
  EXPECT_EQ(stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Minutes(5))[0].rows(), 101u);
}

TEST(StatsAggregatorTest, WindowLimitsWhatCounts) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  stats.Add("w1", "1.0", Report(1, "items", 100));
  clock.Advance(absl::Minutes(10));
  stats.Add("w1", "1.0", Report(2, "items", 7));
  EXPECT_EQ(stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Minutes(5))[0].rows(), 7u);
  EXPECT_EQ(stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Minutes(15))[0].rows(), 107u);
  auto rates = stats.RowsPerSecond(absl::Minutes(1));
  EXPECT_DOUBLE_EQ((rates[{"items", "1.0"}]), 7.0 / 60);
}

// Issue 10: every report was kept for the retention (4.1 GiB for 1,000 workers ×
// 3 pipelines × 8 partitions over an hour). Reports are summed into buckets now:
// what is kept depends on the keys and the retention, not on how many reports.
TEST(StatsAggregatorTest, MemoryIsBoundedByKeysAndRetentionNotByReports) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  uint64_t sequence = 0;
  auto an_hour = [&] {
    for (int i = 0; i < 720; ++i) {  // every 5 s
      ++sequence;
      for (const char* w : {"w1", "w2", "w3"}) stats.Add(w, "1.0", Report(sequence, "items", 10));
      clock.Advance(absl::Seconds(5));
    }
  };
  an_hour();
  const size_t after_one = stats.entries();
  // 5 min of 1 s buckets (one report per worker every 5 s: 61 each, counting the
  // one being filled) and an hour of 1 min buckets (61 each).
  EXPECT_LE(after_one, 3u * (61 + 61));
  an_hour();
  EXPECT_LE(stats.entries(), after_one);
  // Every report of the last hour counted once, and to the minute: the minute the
  // window starts in counts whole (up to 12 more reports per worker).
  const uint64_t rows = stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Hours(1))[0].rows();
  EXPECT_GE(rows, 3u * 720 * 10);
  EXPECT_LE(rows, 3u * (720 + 12) * 10);
}

// A short window (a guard window of a few stats intervals) is answered to the
// second; one beyond five minutes to the minute.
TEST(StatsAggregatorTest, ShortWindowsCountToTheSecond) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  stats.Add("w1", "1.0", Report(1, "items", 100));
  clock.Advance(absl::Seconds(9));
  stats.Add("w1", "1.0", Report(2, "items", 7));
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(10))[0].rows(), 7u);
  EXPECT_EQ(stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Seconds(11))[0].rows(), 107u);
  EXPECT_EQ(stats.Health({"items"}, absl::Seconds(10)).batches, 1u);
  EXPECT_EQ(stats.Health({"other"}, absl::Seconds(10)).batches, 0u);
  EXPECT_EQ(stats.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Minutes(30))[0].rows(), 107u);
}

// Issue 10: the buckets were the leader's memory alone; a restart or failover
// started `stats` and the ramp guards from nothing. The changed minutes are taken
// whole for the store, and a new leader restores them.
TEST(StatsAggregatorTest, ChangedMinutesAreTakenWholeOnceAndRestoredByTheNextLeader) {
  ManualClock clock(absl::FromUnixSeconds(60 * 28333333));
  clock.Advance(absl::Seconds(10));  // into a minute, which the test stays in
  const absl::Time minute = absl::FromUnixSeconds(absl::ToUnixSeconds(clock.Now()) / 60 * 60);
  StatsAggregator leader(clock, absl::Hours(1));
  ASSERT_TRUE(leader.Add("w1", "1.0", Report(1, "items", 100)));
  ASSERT_TRUE(leader.Add("w1", "1.0", Report(2, "items", 50)));
  std::vector<MinuteRollup> taken = leader.TakeChangedMinutes();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].minute, minute);
  EXPECT_EQ(taken[0].worker, "w1");
  EXPECT_EQ(taken[0].pipeline, "items");
  EXPECT_EQ(taken[0].version, "1.0");
  EXPECT_EQ(taken[0].counters.rows, 150u);
  EXPECT_EQ(taken[0].counters.batches, 2u);
  EXPECT_TRUE(leader.TakeChangedMinutes().empty());  // nothing new
  ASSERT_TRUE(leader.Add("w1", "1.0", Report(3, "items", 25)));
  taken = leader.TakeChangedMinutes();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].counters.rows, 175u);  // the whole minute again

  // The next leader, 20 s later: a 1 minute window reaches back before it took
  // over, so it is answered from the restored minute, not from empty 1 s buckets.
  clock.Advance(absl::Seconds(20));
  StatsAggregator next(clock, absl::Hours(1));
  next.RestoreMinutes(taken);
  EXPECT_FALSE(next.TakeChangedMinutes().size() > 0) << "restored minutes are stored already";
  ASSERT_TRUE(next.Add("w1", "1.0", Report(4, "items", 5)));
  std::vector<v1::StatsRow> rows = next.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Minutes(1));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].rows(), 180u);
  EXPECT_EQ(next.Health({"items"}, absl::Minutes(1)).batches, 4u);
  // Restoring again (a replica that leads again with nobody in between) keeps
  // its own count, at least as recent as what it stored.
  next.RestoreMinutes(taken);
  EXPECT_EQ(next.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Minutes(1))[0].rows(), 180u);
  // Another replica led meanwhile: what this one holds is stale; the stored
  // rollups replace it.
  next.Clear();
  next.RestoreMinutes(taken);
  EXPECT_EQ(next.Query(v1::STATS_GROUP_BY_PIPELINE, absl::Minutes(1))[0].rows(), 175u);
  // Minutes beyond the retention are not restored.
  MinuteRollup old = taken[0];
  old.minute -= absl::Hours(2);
  old.worker = "gone";
  next.RestoreMinutes({old});
  EXPECT_EQ(next.Query(v1::STATS_GROUP_BY_WORKER, absl::Hours(1)).size(), 1u);
}

}  // namespace
}  // namespace sluice::controller
