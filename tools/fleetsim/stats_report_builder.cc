#include "tools/fleetsim/stats_report_builder.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>

#include "absl/time/clock.h"
#include "flags/flag_schedule.h"

namespace sluice::fleetsim {
namespace {

// Batches close on the consumer timeout (150 ms by default) at a low rate per
// partition; this many timeout flushes per second per worker is typical there.
constexpr double kTimeoutBatchesPerSecond = 4;
constexpr uint64_t kMaxRowsPerBatch = 10000;
// Roughly one item in 20,000 is malformed in the realistic data set's runs.
constexpr double kDeadLetterRate = 1.0 / 20000;

}  // namespace

StatsReportBuilder::StatsReportBuilder(StatsShape shape, int worker_index, uint64_t seed)
    : shape_(shape), worker_index_(worker_index), rng_(seed) {
  // Never 0: the controller reads 0 as "a worker without incarnations".
  incarnation_ = rng_() | 1;
  // As the real worker: sequences start from the clock, so a restarted fleetsim's
  // reports are not taken for ones already counted.
  next_sequence_ = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())) * 1000;
}

double StatsReportBuilder::Uniform(double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng_);
}

v1::StatsReport StatsReportBuilder::Next(const v1::Assignment& assignment, absl::Duration interval,
                                         absl::Time now) {
  v1::StatsReport report;
  report.set_incarnation(incarnation_);
  report.set_sequence(next_sequence_++);
  *report.mutable_interval_end() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  const double interval_s = absl::ToDoubleSeconds(interval);
  for (const v1::AssignedPipeline& p : assignment.pipelines()) {
    if (p.paused()) continue;
    *report.add_pipelines() = PipelineInterval(assignment, p, interval_s, now);
  }
  return report;
}

v1::PipelineStats StatsReportBuilder::PipelineInterval(const v1::Assignment& assignment,
                                                       const v1::AssignedPipeline& pipeline,
                                                       double interval_s, absl::Time now) {
  const v1::PipelineConfig& config = pipeline.config();
  // Without a rollout every item takes the Kafka path.
  uint32_t basis_points = 10000;
  if (config.has_rollout()) {
    basis_points = 0;
    for (const v1::Flag& f : assignment.flags()) {
      if (f.name() == config.rollout().flag()) {
        basis_points = flags::FlagSchedule(f).BasisPointsAt(now);
      }
    }
  }
  // Skipped legacy items are counted but not written; a legacy table gets rows.
  const bool legacy_written = config.has_rollout() && config.rollout().has_legacy_table();
  const std::string topic = config.topics().empty() ? config.name() : config.topics(0);

  v1::PipelineStats out;
  out.set_pipeline(config.name());
  out.set_pipeline_version(pipeline.version());
  uint64_t kafka_items = 0, legacy_items = 0, dead_letters = 0;
  for (int i = 0; i < shape_.partitions_per_pipeline; ++i) {
    const uint64_t items = static_cast<uint64_t>(
        std::llround(shape_.items_per_second_per_partition * interval_s * Uniform(0.8, 1.2)));
    const uint64_t kafka = items * basis_points / 10000;
    const uint64_t legacy = items - kafka;
    const uint64_t dead =
        std::poisson_distribution<uint64_t>(static_cast<double>(kafka) * kDeadLetterRate)(rng_);
    const uint64_t rows = (legacy_written ? items : kafka) - std::min(dead, kafka);
    v1::PartitionStats* part = out.add_partitions();
    part->set_topic(topic);
    part->set_partition(worker_index_ * shape_.partitions_per_pipeline + i);
    part->set_rows(rows);
    part->set_bytes(rows * static_cast<uint64_t>(shape_.bytes_per_row));
    part->set_dead_letters(dead);
    // A fraction of a second's worth behind: a healthy consumer.
    part->set_consumer_lag(static_cast<int64_t>(
        std::llround(shape_.items_per_second_per_partition * Uniform(0, 0.5))));
    kafka_items += kafka;
    legacy_items += legacy;
    dead_letters += dead;
  }
  const uint64_t timeout_batches =
      static_cast<uint64_t>(std::llround(kTimeoutBatchesPerSecond * interval_s));
  const uint64_t full_batches = (kafka_items + legacy_items) / kMaxRowsPerBatch;
  if (timeout_batches > 0)
    (*out.mutable_batches_by_reason())[v1::FLUSH_REASON_TIMEOUT] = timeout_batches;
  if (full_batches > 0) (*out.mutable_batches_by_reason())[v1::FLUSH_REASON_ROWS] = full_batches;
  out.set_batches(timeout_batches + full_batches);
  out.set_kafka_path_items(kafka_items);
  out.set_legacy_path_items(legacy_items);
  const double p50 = Uniform(3, 8);
  const double p99 = p50 * Uniform(2, 5);
  const double freshness = Uniform(150, 400);
  out.set_write_latency_p50_ms(p50);
  out.set_write_latency_p99_ms(p99);
  out.set_freshness_p99_ms(freshness);
  // Only paths that saw items, as the real worker reports them.
  if (kafka_items > 0) {
    v1::PathStats* path = out.add_paths();
    path->set_path("kafka");
    path->set_items(kafka_items);
    path->set_dead_letters(dead_letters);
    path->set_write_latency_p99_ms(p99);
    path->set_freshness_p99_ms(freshness);
  }
  if (legacy_items > 0) {
    v1::PathStats* path = out.add_paths();
    path->set_path("legacy");
    path->set_items(legacy_items);
    // The real worker times every batch that carried the path, skipped items too.
    path->set_write_latency_p99_ms(p99);
    path->set_freshness_p99_ms(freshness);
  }
  return out;
}

}  // namespace sluice::fleetsim
