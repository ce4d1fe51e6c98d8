#include "tools/fleetsim/stats_report_builder.h"

#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

namespace sluice::fleetsim {
namespace {

using google::protobuf::util::TimeUtil;

v1::Assignment AssignmentWithFlagAt(uint32_t basis_points) {
  v1::Assignment a;
  v1::AssignedPipeline* p = a.add_pipelines();
  p->set_version(7);
  p->mutable_config()->set_name("items");
  p->mutable_config()->add_topics("items-topic");
  p->mutable_config()->mutable_rollout()->set_flag("kafka-ingest");
  p->mutable_config()->mutable_rollout()->set_skip(true);
  v1::AssignedPipeline* paused = a.add_pipelines();
  paused->set_paused(true);
  paused->mutable_config()->set_name("paused");
  v1::Flag* f = a.add_flags();
  f->set_name("kafka-ingest");
  v1::PercentageChange* c = f->add_schedule();
  *c->mutable_effective_time() = TimeUtil::SecondsToTimestamp(0);
  c->set_basis_points(basis_points);
  return a;
}

TEST(StatsReportBuilderTest, OneEntryPerRunningPipelineWithItsPartitions) {
  StatsReportBuilder builder({/*partitions_per_pipeline=*/4, /*items_per_second=*/100, 500},
                             /*worker_index=*/3, /*seed=*/1);
  const v1::StatsReport r =
      builder.Next(AssignmentWithFlagAt(10000), absl::Seconds(5), absl::FromUnixSeconds(1000));
  ASSERT_EQ(r.pipelines_size(), 1);
  const v1::PipelineStats& p = r.pipelines(0);
  EXPECT_EQ(p.pipeline(), "items");
  EXPECT_EQ(p.pipeline_version(), 7u);
  ASSERT_EQ(p.partitions_size(), 4);
  EXPECT_EQ(p.partitions(0).topic(), "items-topic");
  // Worker 3's partitions do not overlap another worker's.
  EXPECT_EQ(p.partitions(0).partition(), 12);
  EXPECT_EQ(p.partitions(3).partition(), 15);
  uint64_t batches = 0;
  for (const auto& [reason, n] : p.batches_by_reason()) batches += n;
  EXPECT_EQ(batches, p.batches());
  EXPECT_EQ(r.interval_end().seconds(), 1000);
  EXPECT_NE(r.incarnation(), 0u);
}

// At 100% every item takes the Kafka path and each row's bytes are counted.
TEST(StatsReportBuilderTest, FullRolloutWritesEveryItem) {
  StatsReportBuilder builder({2, 100, 500}, 0, 1);
  const v1::PipelineStats p =
      builder.Next(AssignmentWithFlagAt(10000), absl::Seconds(10), absl::FromUnixSeconds(1000))
          .pipelines(0);
  EXPECT_EQ(p.legacy_path_items(), 0u);
  EXPECT_GT(p.kafka_path_items(), 0u);
  uint64_t rows = 0, dead = 0;
  for (const v1::PartitionStats& part : p.partitions()) {
    rows += part.rows();
    dead += part.dead_letters();
    EXPECT_EQ(part.bytes(), part.rows() * 500);
  }
  EXPECT_EQ(rows + dead, p.kafka_path_items());
  ASSERT_EQ(p.paths_size(), 1);
  EXPECT_EQ(p.paths(0).path(), "kafka");
}

// At 0% with skip, items are counted on the legacy path and nothing is written.
TEST(StatsReportBuilderTest, ZeroRolloutSkipsEveryItem) {
  StatsReportBuilder builder({2, 100, 500}, 0, 1);
  const v1::PipelineStats p =
      builder.Next(AssignmentWithFlagAt(0), absl::Seconds(10), absl::FromUnixSeconds(1000))
          .pipelines(0);
  EXPECT_EQ(p.kafka_path_items(), 0u);
  EXPECT_GT(p.legacy_path_items(), 0u);
  for (const v1::PartitionStats& part : p.partitions()) EXPECT_EQ(part.rows(), 0u);
  ASSERT_EQ(p.paths_size(), 1);
  EXPECT_EQ(p.paths(0).path(), "legacy");
}

// The controller drops a report whose (incarnation, sequence) it has seen.
TEST(StatsReportBuilderTest, SequencesIncrease) {
  StatsReportBuilder builder({1, 1, 1}, 0, 1);
  const v1::Assignment a = AssignmentWithFlagAt(5000);
  const uint64_t first = builder.Next(a, absl::Seconds(1), absl::FromUnixSeconds(1)).sequence();
  EXPECT_EQ(builder.Next(a, absl::Seconds(1), absl::FromUnixSeconds(2)).sequence(), first + 1);
}

}  // namespace
}  // namespace sluice::fleetsim
