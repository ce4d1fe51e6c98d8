#include "worker/worker_metrics.h"

#include <algorithm>

namespace sluice::worker {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

// sluice_freshness_seconds: from tens of milliseconds (a short consumer timeout)
// to minutes (a backlog).
const std::vector<double>& FreshnessBuckets() {
  static const std::vector<double> buckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                              2.5,  5,     10,   30,  60,   300};
  return buckets;
}

}  // namespace

WorkerMetrics::WorkerMetrics(prometheus::Registry& registry, const std::string& pipeline,
                             const std::string& consumer_group)
    : registry_(registry),
      pipeline_(pipeline),
      consumer_group_(consumer_group),
      consumed_(BuildCounter()
                    .Name("sluice_messages_consumed_total")
                    .Help("Kafka messages handed to the batcher.")
                    .Register(registry)
                    .Add({{"pipeline", pipeline}})),
      discarded_(BuildCounter()
                     .Name("sluice_messages_discarded_total")
                     .Help("Kafka messages fetched but not batched; they are read again (after "
                           "a fenced batch, a rewind, or of a partition no longer held).")
                     .Register(registry)
                     .Add({{"pipeline", pipeline}})),
      expired_(BuildCounter()
                   .Name("sluice_messages_expired_total")
                   .Help("Kafka messages deleted by the topic's retention before they were read.")
                   .Register(registry)
                   .Add({{"pipeline", pipeline}})),
      unpinned_(BuildCounter()
                    .Name("sluice_start_positions_unpinned_total")
                    .Help("Symbolic start positions (earliest, latest) left to librdkafka at an "
                          "assignment because the broker did not resolve them or PostgreSQL did "
                          "not store them; \"latest\" may then mean another offset for a next "
                          "owner.")
                    .Register(registry)
                    .Add({{"pipeline", pipeline}})),
      stalled_family_(BuildGauge()
                          .Name("sluice_partitions_stalled")
                          .Help("Partitions paused by an out-of-range position: until an operator "
                                "resets their stored offset (beyond the end of the log), or until "
                                "the next recheck (the log's bounds could not be read).")
                          .Register(registry)),
      stalled_(stalled_family_.Add({{"pipeline", pipeline}})),
      paused_family_(BuildGauge()
                         .Name("sluice_pipeline_paused")
                         .Help("1 while the pipeline is paused by a permanent error (the reason "
                               "is in /ready and the logs).")
                         .Register(registry)),
      paused_(paused_family_.Add({{"pipeline", pipeline}})),
      rows_(BuildCounter()
                .Name("sluice_rows_written_total")
                .Help("Rows committed to the target table.")
                .Register(registry)
                .Add({{"pipeline", pipeline}})),
      bytes_(BuildCounter()
                 .Name("sluice_payload_bytes_written_total")
                 .Help("Payload bytes committed to the target table.")
                 .Register(registry)
                 .Add({{"pipeline", pipeline}})),
      dead_letters_(BuildCounter()
                        .Name("sluice_dead_letters_total")
                        .Help("Messages committed to sluice_dead_letters.")
                        .Register(registry)
                        .Add({{"pipeline", pipeline}})),
      isolation_copies_(BuildCounter()
                            .Name("sluice_row_isolation_copies_total")
                            .Help("COPY attempts spent isolating rows PostgreSQL refused "
                                  "(committed batches).")
                            .Register(registry)
                            .Add({{"pipeline", pipeline}})),
      fenced_(BuildCounter()
                  .Name("sluice_fenced_batches_total")
                  .Help("Batches dropped because another worker owns a partition.")
                  .Register(registry)
                  .Add({{"pipeline", pipeline}})),
      without_timestamp_(BuildCounter()
                             .Name("sluice_items_without_timestamp_total")
                             .Help("Consumed items without a Kafka timestamp; under a rollout "
                                   "they take the legacy path.")
                             .Register(registry)
                             .Add({{"pipeline", pipeline}})),
      before_retention_(BuildCounter()
                            .Name("sluice_items_before_schedule_retention_total")
                            .Help("Routed items older than their flag's kept schedule (the "
                                  "controller's --schedule-retention): routed by the oldest "
                                  "kept change, which may differ from their first routing.")
                            .Register(registry)
                            .Add({{"pipeline", pipeline}})),
      held_for_schedule_(BuildGauge()
                             .Name("sluice_partitions_held_for_schedule")
                             .Help("Partitions paused because their next item is later than "
                                   "the flag schedule this worker knows (cut off from the "
                                   "controller, or a producer clock ahead).")
                             .Register(registry)
                             .Add({{"pipeline", pipeline}})),
      schedule_holds_(BuildCounter()
                          .Name("sluice_schedule_holds_total")
                          .Help("Times a partition was held for an item later than the known "
                                "flag schedule.")
                          .Register(registry)
                          .Add({{"pipeline", pipeline}})),
      beyond_schedule_(BuildCounter()
                           .Name("sluice_items_beyond_known_schedule_total")
                           .Help("Items sent to dead letters because their timestamp stayed "
                                 "beyond the known flag schedule for the hold limit (reason "
                                 "'timestamp beyond the known schedule').")
                           .Register(registry)
                           .Add({{"pipeline", pipeline}})),
      batches_(BuildCounter()
                   .Name("sluice_batches_total")
                   .Help("Batches committed, by flush reason.")
                   .Register(registry)),
      kafka_items_(BuildCounter()
                       .Name("sluice_items_total")
                       .Help("Committed items by rollout path: kafka (the pipeline's table) or "
                             "legacy (skipped or written to the legacy table).")
                       .Register(registry)
                       .Add({{"pipeline", pipeline}, {"path", "kafka"}})),
      legacy_items_(BuildCounter()
                        .Name("sluice_items_total")
                        .Help("Committed items by rollout path: kafka (the pipeline's table) or "
                              "legacy (skipped or written to the legacy table).")
                        .Register(registry)
                        .Add({{"pipeline", pipeline}, {"path", "legacy"}})),
      retries_(BuildCounter()
                   .Name("sluice_write_retries_total")
                   .Help("Whole-batch write retries, by reason.")
                   .Register(registry)),
      batch_rows_(BuildHistogram()
                      .Name("sluice_batch_rows")
                      .Help("Messages per committed batch.")
                      .Register(registry)
                      .Add({{"pipeline", pipeline}},
                           prometheus::Histogram::BucketBoundaries{1, 10, 100, 1000, 5000, 10000,
                                                                   50000, 100000})),
      write_seconds_(
          BuildHistogram()
              .Name("sluice_batch_write_duration_seconds")
              .Help("Time to write and commit one batch, retries included.")
              .Register(registry)
              .Add({{"pipeline", pipeline}},
                   prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      lag_(BuildGauge()
               .Name("sluice_consumer_lag_messages")
               .Help("Messages of the partition not yet committed to PostgreSQL: its high "
                     "watermark less the next offset committed (docs/METRICS.md).")
               .Register(registry)),
      group_lag_(BuildGauge()
                     .Name("kafka_consumergroup_lag")
                     .Help("kafka_exporter's name: the consumer group's lag per partition, "
                           "clamped at 0 (the same figure as sluice_consumer_lag_messages).")
                     .Register(registry)),
      lag_seconds_(BuildGauge()
                       .Name("sluice_consumer_lag_seconds")
                       .Help("How long the oldest message of the partition not yet committed "
                             "to PostgreSQL has waited since its Kafka timestamp; 0 when none "
                             "waits (docs/METRICS.md).")
                       .Register(registry)),
      lag_status_(BuildGauge()
                      .Name("sluice_consumer_lag_status")
                      .Help("The partition's lag status over the last 30 s: 0 unknown, 1 OK, 2 "
                            "WARN (growing), 3 STALL (no progress), 4 STOP (nothing will "
                            "commit until someone acts); docs/METRICS.md.")
                      .Register(registry)),
      freshness_(BuildHistogram()
                     .Name("sluice_freshness_seconds")
                     .Help("Per message, its Kafka timestamp to the commit of its batch in "
                           "PostgreSQL.")
                     .Register(registry)
                     .Add({{"pipeline", pipeline}}, FreshnessBuckets())),
      writers_(BuildGauge()
                   .Name("sluice_writers")
                   .Help("PostgreSQL connections writing the pipeline's batches, each for its "
                         "own share of the partitions, while the consumer fills the next ones.")
                   .Register(registry)
                   .Add({{"pipeline", pipeline}})),
      config_version_(BuildGauge()
                          .Name("sluice_pipeline_config_version")
                          .Help("The version of the pipeline's config this worker runs (0 in "
                                "standalone mode).")
                          .Register(registry)
                          .Add({{"pipeline", pipeline}})),
      consumer_timeout_(BuildGauge()
                            .Name("sluice_consumer_timeout_seconds")
                            .Help("The consumer timeout in use: as configured, or as tuned to "
                                  "keep a freshness target.")
                            .Register(registry)
                            .Add({{"pipeline", pipeline}})),
      writer_wait_(BuildCounter()
                       .Name("sluice_writer_wait_seconds_total")
                       .Help("Time the consumer waited for a writer to finish its batch before "
                             "handing it the next one: PostgreSQL was the slower side.")
                       .Register(registry)
                       .Add({{"pipeline", pipeline}})),
      fetched_messages_(BuildCounter()
                            .Name("sluice_kafka_fetched_messages_total")
                            .Help("Messages the Kafka client fetched, per topic (librdkafka "
                                  "statistics; read again after a rewind counts again).")
                            .Register(registry)),
      fetched_bytes_(BuildCounter()
                         .Name("sluice_kafka_fetched_bytes_total")
                         .Help("Message bytes the Kafka client fetched, per topic (librdkafka "
                               "statistics).")
                         .Register(registry)),
      broker_rtt_(BuildGauge()
                      .Name("sluice_kafka_broker_rtt_seconds")
                      .Help("Round-trip time of the Kafka client's requests to each broker over "
                            "the last statistics interval: stat=\"avg\" or \"p99\".")
                      .Register(registry)) {}

void WorkerMetrics::Stopped() {
  // A stopped pipeline has no lag. Called when its loop has ended and before a
  // replacement starts (PipelineManager stops a runner first), so no other object
  // holds these gauges: prometheus-cpp hands out one object per label set.
  for (auto& [tp, g] : lag_gauges_) RemoveLagGauges(g);
  lag_gauges_.clear();
  for (auto& [broker, g] : rtt_gauges_) {
    broker_rtt_.Remove(g.first);
    broker_rtt_.Remove(g.second);
  }
  rtt_gauges_.clear();
  fetched_seen_.clear();
  stalled_.Set(0);
  paused_.Set(0);
  writers_.Set(0);
  config_version_.Set(0);
  consumer_timeout_.Set(0);
}

void WorkerMetrics::BatchWritten(const Batch& batch, const WriteResult& result,
                                 absl::Duration latency, absl::Time committed_at) {
  // One update of the histogram per batch.
  const std::vector<double>& bounds = FreshnessBuckets();
  std::vector<double> counts(bounds.size() + 1, 0);
  double sum = 0;
  for (const Message& m : batch.messages) {
    if (!m.timestamp) continue;
    const double s = std::max(0.0, absl::ToDoubleSeconds(committed_at - *m.timestamp));
    sum += s;
    ++counts[static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), s) -
                                 bounds.begin())];
  }
  freshness_.ObserveMultiple(counts, sum);
  rows_.Increment(static_cast<double>(result.rows_written));
  bytes_.Increment(static_cast<double>(result.bytes_written));
  dead_letters_.Increment(static_cast<double>(result.dead_letters));
  kafka_items_.Increment(static_cast<double>(result.kafka_items));
  legacy_items_.Increment(static_cast<double>(result.legacy_items));
  beyond_schedule_.Increment(static_cast<double>(result.unrouted_dead_letters));
  isolation_copies_.Increment(static_cast<double>(result.isolation_copies));
  batches_.Add({{"pipeline", pipeline_}, {"reason", FlushReasonName(batch.reason)}}).Increment();
  batch_rows_.Observe(static_cast<double>(batch.messages.size()));
  write_seconds_.Observe(absl::ToDoubleSeconds(latency));
}

void WorkerMetrics::WriteRetried(const std::string& reason) {
  retries_.Add({{"pipeline", pipeline_}, {"reason", reason}}).Increment();
}

void WorkerMetrics::SetLag(const std::vector<PartitionLag>& lag) {
  std::map<TopicPartition, LagGauges> seen;
  for (const PartitionLag& l : lag) {
    LagGauges g;
    if (auto it = lag_gauges_.find(l.partition); it != lag_gauges_.end()) {
      g = it->second;
      lag_gauges_.erase(it);
    } else {
      const std::string partition = std::to_string(l.partition.partition);
      g.messages = &lag_.Add(
          {{"pipeline", pipeline_}, {"topic", l.partition.topic}, {"partition", partition}});
      g.status = &lag_status_.Add(
          {{"pipeline", pipeline_}, {"topic", l.partition.topic}, {"partition", partition}});
    }
    g.status->Set(static_cast<double>(l.status));
    g.messages->Set(static_cast<double>(l.lag));
    // kafka_exporter's series exists only while the lag is known (absent() alerts
    // see the rest), as sluice_consumer_lag_seconds.
    if (l.lag >= 0 && g.group == nullptr) {
      g.group = &group_lag_.Add({{"consumergroup", consumer_group_},
                                 {"topic", l.partition.topic},
                                 {"partition", std::to_string(l.partition.partition)}});
    } else if (l.lag < 0 && g.group != nullptr) {
      group_lag_.Remove(g.group);
      g.group = nullptr;
    }
    if (g.group != nullptr) g.group->Set(static_cast<double>(l.lag));
    // Unknown: no series rather than a made-up value.
    if (l.lag_time && g.seconds == nullptr) {
      g.seconds = &lag_seconds_.Add({{"pipeline", pipeline_},
                                     {"topic", l.partition.topic},
                                     {"partition", std::to_string(l.partition.partition)}});
    } else if (!l.lag_time && g.seconds != nullptr) {
      lag_seconds_.Remove(g.seconds);
      g.seconds = nullptr;
    }
    if (g.seconds != nullptr) g.seconds->Set(absl::ToDoubleSeconds(*l.lag_time));
    seen[l.partition] = g;
  }
  // Partitions no longer assigned stop being reported.
  for (auto& [tp, g] : lag_gauges_) RemoveLagGauges(g);
  lag_gauges_ = std::move(seen);
}

void WorkerMetrics::RemoveLagGauges(const LagGauges& g) {
  lag_.Remove(g.messages);
  if (g.group != nullptr) group_lag_.Remove(g.group);
  lag_status_.Remove(g.status);
  if (g.seconds != nullptr) lag_seconds_.Remove(g.seconds);
}

void WorkerMetrics::SetClientView(const ClientView& view) {
  // Partitions the client does not list now keep their totals: librdkafka's are
  // per partition for the client's life, so one that comes back goes on counting.
  for (const auto& [tp, now] : view.fetched) {
    ClientView::Fetched before;
    if (auto it = fetched_seen_.find(tp); it != fetched_seen_.end()) before = it->second;
    // Totals that went down started over (the client forgot the partition).
    const int64_t messages =
        now.messages >= before.messages ? now.messages - before.messages : now.messages;
    const int64_t bytes = now.bytes >= before.bytes ? now.bytes - before.bytes : now.bytes;
    if (messages > 0 || bytes > 0) {
      fetched_messages_.Add({{"pipeline", pipeline_}, {"topic", tp.topic}})
          .Increment(static_cast<double>(messages));
      fetched_bytes_.Add({{"pipeline", pipeline_}, {"topic", tp.topic}})
          .Increment(static_cast<double>(bytes));
    }
    fetched_seen_[tp] = now;
  }
  // Brokers without samples in the interval lose their series (no stale value).
  std::map<std::string, std::pair<prometheus::Gauge*, prometheus::Gauge*>> rtt;
  for (const ClientView::BrokerRtt& b : view.brokers) {
    auto& g = rtt[b.broker];
    if (auto it = rtt_gauges_.find(b.broker); it != rtt_gauges_.end()) {
      g = it->second;
      rtt_gauges_.erase(it);
    } else {
      g.first = &broker_rtt_.Add({{"pipeline", pipeline_}, {"broker", b.broker}, {"stat", "avg"}});
      g.second = &broker_rtt_.Add({{"pipeline", pipeline_}, {"broker", b.broker}, {"stat", "p99"}});
    }
    g.first->Set(absl::ToDoubleSeconds(b.avg));
    g.second->Set(absl::ToDoubleSeconds(b.p99));
  }
  for (auto& [broker, g] : rtt_gauges_) {
    broker_rtt_.Remove(g.first);
    broker_rtt_.Remove(g.second);
  }
  rtt_gauges_ = std::move(rtt);
}

void WorkerMetrics::RegisterBuildInfo(prometheus::Registry& registry, const std::string& version) {
  BuildGauge()
      .Name("sluice_build_info")
      .Help("Always 1; the labels say which build is running.")
      .Register(registry)
      .Add({{"version", version}})
      .Set(1);
}

}  // namespace sluice::worker
