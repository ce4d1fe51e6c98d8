// Makes the StatsReports a simulated worker sends: the shape the real worker's
// PipelineStats::Take and StatsOutbox produce (per pipeline, per partition rows,
// bytes, dead letters and lag; per rollout path items; batches by flush reason;
// latency percentiles; the deployed pipeline version), with plausible numbers,
// so the controller's StatsAggregator does the work it would for a real fleet.
#ifndef SLUICE_TOOLS_FLEETSIM_STATS_REPORT_BUILDER_H_
#define SLUICE_TOOLS_FLEETSIM_STATS_REPORT_BUILDER_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"
#include "sluice/v1/control.pb.h"
#include "sluice/v1/stats.pb.h"

namespace sluice::fleetsim {

// How much each simulated worker pretends to ingest.
struct StatsShape {
  // Partitions this worker holds of each assigned pipeline's topic.
  int partitions_per_pipeline = 8;
  // Items consumed per partition per second (±20% per interval).
  double items_per_second_per_partition = 50;
  // Payload bytes per row (the realistic data set averages ~620 B).
  int64_t bytes_per_row = 620;
};

// Not thread-safe: each simulated worker owns one.
class StatsReportBuilder {
 public:
  // `worker_index` keeps this worker's partition numbers apart from the others';
  // `seed` makes its numbers (and its incarnation) reproducible.
  StatsReportBuilder(StatsShape shape, int worker_index, uint64_t seed);

  // The report for the `interval` that ends at `now`, one PipelineStats per
  // pipeline of `assignment` that is not paused (a paused pipeline reports
  // nothing, as on a real worker). Items split between the Kafka and the legacy
  // path by the rollout flag's percentage at `now`, from the assignment's flags.
  // Each call takes the next sequence number.
  v1::StatsReport Next(const v1::Assignment& assignment, absl::Duration interval, absl::Time now);

  uint64_t incarnation() const { return incarnation_; }

 private:
  v1::PipelineStats PipelineInterval(const v1::Assignment& assignment,
                                     const v1::AssignedPipeline& pipeline, double interval_s,
                                     absl::Time now);
  double Uniform(double lo, double hi);

  const StatsShape shape_;
  const int worker_index_;
  std::mt19937_64 rng_;
  uint64_t incarnation_;
  uint64_t next_sequence_;
};

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_STATS_REPORT_BUILDER_H_
