// The controller's own Prometheus metrics.
#ifndef SLUICE_CONTROLLER_CONTROLLER_METRICS_H_
#define SLUICE_CONTROLLER_CONTROLLER_METRICS_H_

#include <array>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/dead_letter_counts.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "sluice/v1/flags.pb.h"

namespace sluice::controller {

// Thread-safe.
class ControllerMetrics {
 public:
  explicit ControllerMetrics(prometheus::Registry& registry);

  void SetWorkersConnected(const std::map<std::string, int>& by_build_version);
  void SetPushesPending(int n) { pending_.Set(n); }
  void PushSent() { pushes_.Increment(); }
  void AckReceived(absl::Duration since_push) {
    push_ack_seconds_.Observe(absl::ToDoubleSeconds(since_push));
  }
  void NackReceived() { nacks_.Increment(); }
  // The schedule horizon the workers are sent (ScheduleHorizonKeeper), and its
  // failed rounds (a barrier or reload that did not complete: the horizon stays).
  void SetScheduleKnownUntil(absl::Time t) {
    known_until_.Set(absl::ToUnixMicros(t) / 1e6);
    known_until_deprecated_.Set(absl::ToUnixMicros(t) / 1e6);
  }
  void ScheduleHorizonFailed() { horizon_failures_.Increment(); }
  // This replica leads (1) or follows (0); each time it starts or stops leading.
  void SetLeader(bool leader) { leader_.Set(leader ? 1 : 0); }
  void LeadershipAcquired() { acquired_.Increment(); }
  void LeadershipLost() { lost_.Increment(); }
  // Each flag's percentage in effect now, and its ramp's state (1 for the current
  // state of running/done/halted, 0 for the others).
  void SetFlags(const v1::FlagSnapshot& flags, absl::Time now);

  // Aggregated rows/s over the last minute by (pipeline, version). Deprecated (a
  // rate as a gauge; an old leader's lingers after a failover): see
  // SetRowsReported.
  void SetRowsPerSecond(const std::map<std::pair<std::string, std::string>, double>& rates);
  // Rows the workers reported to this replica, by (pipeline, version), from
  // StatsAggregator::RowsReported (totals that only grow).
  void SetRowsReported(const std::map<std::pair<std::string, std::string>, uint64_t>& totals);
  // OpenFeature: the flagd sync streams open now; each OFREP answer by HTTP status.
  void SetFlagdSyncStreams(int n) { flagd_sync_streams_.Set(n); }
  void OfrepAnswered(int code);
  // Each pipeline's dead letters by state (StateStore::CountDeadLetters), counted
  // at `counted_at`; a pipeline no longer listed loses its series.
  void SetDeadLetters(const std::map<std::string, DeadLetterCounts>& by_pipeline,
                      absl::Time counted_at);

 private:
  absl::Mutex mu_;
  prometheus::Family<prometheus::Gauge>& workers_;
  std::map<std::string, prometheus::Gauge*> worker_gauges_ ABSL_GUARDED_BY(mu_);
  prometheus::Gauge& pending_;
  prometheus::Counter& pushes_;
  prometheus::Counter& nacks_;
  prometheus::Gauge& known_until_;
  prometheus::Gauge& known_until_deprecated_;
  prometheus::Counter& horizon_failures_;
  prometheus::Gauge& leader_;
  prometheus::Family<prometheus::Counter>& leadership_changes_;
  prometheus::Counter& acquired_;
  prometheus::Counter& lost_;
  prometheus::Histogram& push_ack_seconds_;
  prometheus::Family<prometheus::Gauge>& rows_per_second_;
  std::map<std::pair<std::string, std::string>, prometheus::Gauge*> rate_gauges_
      ABSL_GUARDED_BY(mu_);
  prometheus::Family<prometheus::Gauge>& dead_letters_;
  prometheus::Gauge& dead_letters_counted_at_;
  prometheus::Gauge& dead_letters_counted_at_deprecated_;
  prometheus::Family<prometheus::Counter>& rows_reported_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> rows_reported_counters_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::array<prometheus::Gauge*, 3>> dead_letter_gauges_ ABSL_GUARDED_BY(mu_);
  prometheus::Gauge& flagd_sync_streams_;
  prometheus::Family<prometheus::Counter>& ofrep_requests_;
  prometheus::Family<prometheus::Gauge>& flag_percent_;
  prometheus::Family<prometheus::Gauge>& ramp_state_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_CONTROLLER_METRICS_H_
