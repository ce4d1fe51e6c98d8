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
  WorkerMetrics(prometheus::Registry& registry, const std::string& pipeline);
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
  void BatchWritten(const Batch& batch, const WriteResult& result, absl::Duration latency);
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
  void SetLag(const std::vector<PartitionLag>& lag);
  // How many writers (PostgreSQL connections writing batches) the pipeline runs.
  void SetWriters(int n) { writers_.Set(n); }
  // The consumer waited `d` for a writer to finish its batch before handing it
  // the next one: PostgreSQL was the slower side for that long.
  void WriterWaited(absl::Duration d) { writer_wait_.Increment(absl::ToDoubleSeconds(d)); }

  // Registers sluice_build_info{version} = 1.
  static void RegisterBuildInfo(prometheus::Registry& registry, const std::string& version);

 private:
  prometheus::Registry& registry_;
  const std::string pipeline_;
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
  prometheus::Gauge& writers_;
  prometheus::Counter& writer_wait_;
  std::map<TopicPartition, prometheus::Gauge*> lag_gauges_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_WORKER_METRICS_H_
