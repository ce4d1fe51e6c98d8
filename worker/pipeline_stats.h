// Per-pipeline counters kept as deltas between StatsReports to the controller.
#ifndef SLUICE_WORKER_PIPELINE_STATS_H_
#define SLUICE_WORKER_PIPELINE_STATS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sluice/v1/stats.pb.h"
#include "worker/batch.h"
#include "worker/batch_sink.h"
#include "worker/message_source.h"

namespace sluice::worker {

// Thread-safe: the ingest loop records, the control client takes.
class PipelineStats {
 public:
  // A batch committed at `now` after `latency` (retries included).
  void BatchCommitted(const Batch& batch, const WriteResult& result, absl::Duration latency,
                      absl::Time now);
  void Retried();
  void SetLag(const std::vector<PartitionLag>& lag);
  // The consumer timeout in use (a gauge: reported as the latest value).
  void SetConsumerTimeout(absl::Duration timeout);

  // Everything since the previous Take(), then starts over. Lag is the latest value.
  v1::PipelineStats Take(const std::string& pipeline, uint64_t version);

 private:
  absl::Mutex mu_;
  std::map<TopicPartition, PartitionWrite> partitions_ ABSL_GUARDED_BY(mu_);
  std::map<TopicPartition, PartitionLag> lag_ ABSL_GUARDED_BY(mu_);
  std::map<int32_t, uint64_t> batches_by_reason_ ABSL_GUARDED_BY(mu_);
  uint64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration consumer_timeout_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  uint64_t retries_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t kafka_items_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t legacy_items_ ABSL_GUARDED_BY(mu_) = 0;
  // Per path ("kafka", "legacy"): items, dead letters, latency and freshness samples.
  struct PathTotals {
    uint64_t items = 0;
    uint64_t dead_letters = 0;
    std::vector<double> latency_ms;
    std::vector<double> freshness_ms;
  };
  std::map<std::string, PathTotals> paths_ ABSL_GUARDED_BY(mu_);
  std::vector<double> latency_ms_ ABSL_GUARDED_BY(mu_);
  // Per batch: how old its oldest message was at commit.
  std::vector<double> freshness_ms_ ABSL_GUARDED_BY(mu_);
};

// The q-quantile (0..1) of `samples` (nearest rank); 0 for none.
double Quantile(std::vector<double> samples, double q);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_PIPELINE_STATS_H_
