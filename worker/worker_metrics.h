// The worker's Prometheus metrics for one pipeline (prefix sluice_, units in names).
#ifndef SLUICE_WORKER_WORKER_METRICS_H_
#define SLUICE_WORKER_WORKER_METRICS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "worker/batch.h"
#include "worker/batch_sink.h"
#include "worker/message_source.h"

namespace sluice::worker {

// Updated once per poll or batch, never per message. Thread-safe (prometheus-cpp
// metrics are atomic).
class WorkerMetrics {
 public:
  // `consumer_group` labels kafka_consumergroup_lag, as kafka_exporter does.
  WorkerMetrics(prometheus::Registry& registry, const std::string& pipeline,
                const std::string& consumer_group);
  // The pipeline's loop has ended: removes its lag series and zeroes the
  // stalled, paused and writers gauges. Call from the thread that ran the loop, after it.
  void Stopped();

  // Messages handed to the batcher.
  void MessagesConsumed(size_t n) { consumed_.Increment(static_cast<double>(n)); }
  // Messages fetched but not batched (read again later: after a fence, a rewind,
  // or of a partition no longer held).
  void MessagesDiscarded(size_t n) { discarded_.Increment(static_cast<double>(n)); }
  // Messages retention deleted before they were read.
  void MessagesExpired(int64_t n) { expired_.Increment(static_cast<double>(n)); }
  // Symbolic start positions left to librdkafka (not resolved or not stored).
  void StartPositionsUnpinned(size_t n) { unpinned_.Increment(static_cast<double>(n)); }
  void SetStalledPartitions(int n) { stalled_.Set(n); }
  void SetPaused(bool paused) { paused_.Set(paused ? 1 : 0); }
  // A batch committed at `committed_at` after `latency` (retries included).
  void BatchWritten(const Batch& batch, const WriteResult& result, absl::Duration latency,
                    absl::Time committed_at);
  // reason: "unavailable", "precondition", "internal".
  void WriteRetried(const std::string& reason);
  void BatchFenced() { fenced_.Increment(); }
  // Items of a poll that had no Kafka timestamp (Router::Route said kMissing).
  void ItemsWithoutTimestamp(size_t n) { without_timestamp_.Increment(static_cast<double>(n)); }
  // Items older than their flag's kept schedule (Router::Route said
  // kBeforeKeptSchedule).
  void ItemsBeforeScheduleRetention(size_t n) {
    before_retention_.Increment(static_cast<double>(n));
  }
  // Partitions paused because their next item lies beyond the flag schedule
  // the worker knows (Router::Route said kBeyondKnownSchedule).
  void SetPartitionsHeldForSchedule(int n) { held_for_schedule_.Set(n); }
  // Holds started (one per partition and item).
  void ScheduleHoldStarted() { schedule_holds_.Increment(); }
  // Per partition: sluice_consumer_lag_messages, kafka_consumergroup_lag and (when
  // known) sluice_consumer_lag_seconds; partitions not listed lose their series.
  void SetLag(const std::vector<PartitionLag>& lag);
  // The Kafka client's own view: messages and bytes fetched per topic (counters
  // fed by the growth of the client's per-partition totals) and each broker's
  // round-trip time.
  void SetClientView(const ClientView& view);
  // How many writers (PostgreSQL connections writing batches) the pipeline runs.
  void SetWriters(int n) { writers_.Set(n); }
  // The version of the pipeline's config the worker runs (the controller's
  // pipeline version; 0 in standalone mode).
  void SetConfigVersion(uint64_t version) { config_version_.Set(static_cast<double>(version)); }
  // The consumer timeout in use (tuned under a freshness target).
  void SetConsumerTimeout(absl::Duration d) { consumer_timeout_.Set(absl::ToDoubleSeconds(d)); }
  // The consumer waited `d` for a writer to finish its batch before handing it
  // the next one: PostgreSQL was the slower side for that long.
  void WriterWaited(absl::Duration d) { writer_wait_.Increment(absl::ToDoubleSeconds(d)); }

  // Registers sluice_build_info{version} = 1.
  static void RegisterBuildInfo(prometheus::Registry& registry, const std::string& version);

 private:
  prometheus::Registry& registry_;
  const std::string pipeline_;
  const std::string consumer_group_;
  prometheus::Counter& consumed_;
  prometheus::Counter& discarded_;
  prometheus::Counter& expired_;
  prometheus::Counter& unpinned_;
  prometheus::Family<prometheus::Gauge>& stalled_family_;
  prometheus::Gauge& stalled_;
  prometheus::Family<prometheus::Gauge>& paused_family_;
  prometheus::Gauge& paused_;
  prometheus::Counter& rows_;
  prometheus::Counter& bytes_;
  prometheus::Counter& dead_letters_;
  prometheus::Counter& isolation_copies_;
  prometheus::Counter& fenced_;
  prometheus::Counter& without_timestamp_;
  prometheus::Counter& before_retention_;
  prometheus::Gauge& held_for_schedule_;
  prometheus::Counter& schedule_holds_;
  prometheus::Counter& beyond_schedule_;
  prometheus::Family<prometheus::Counter>& batches_;
  prometheus::Counter& kafka_items_;
  prometheus::Counter& legacy_items_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Histogram& batch_rows_;
  prometheus::Histogram& write_seconds_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& group_lag_;
  prometheus::Family<prometheus::Gauge>& lag_seconds_;
  prometheus::Family<prometheus::Gauge>& lag_status_;
  prometheus::Histogram& freshness_;
  prometheus::Gauge& writers_;
  prometheus::Gauge& config_version_;
  prometheus::Gauge& consumer_timeout_;
  prometheus::Counter& writer_wait_;
  struct LagGauges {
    prometheus::Gauge* messages = nullptr;
    prometheus::Gauge* group = nullptr;    // while the lag is known
    prometheus::Gauge* seconds = nullptr;  // while the lag in time is known
    prometheus::Gauge* status = nullptr;
  };
  std::map<TopicPartition, LagGauges> lag_gauges_;
  void RemoveLagGauges(const LagGauges& g);
  prometheus::Family<prometheus::Counter>& fetched_messages_;
  prometheus::Family<prometheus::Counter>& fetched_bytes_;
  prometheus::Family<prometheus::Gauge>& broker_rtt_;
  // The client's totals last seen, per partition (SetClientView counts growth).
  std::map<TopicPartition, ClientView::Fetched> fetched_seen_;
  // Per broker: the avg and p99 gauges.
  std::map<std::string, std::pair<prometheus::Gauge*, prometheus::Gauge*>> rtt_gauges_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_WORKER_METRICS_H_
