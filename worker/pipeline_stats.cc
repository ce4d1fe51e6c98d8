#include "worker/pipeline_stats.h"

#include <algorithm>
#include <cmath>

namespace sluice::worker {

double Quantile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
  return samples[std::min(samples.size() - 1, rank == 0 ? 0 : rank - 1)];
}

void PipelineStats::BatchCommitted(const Batch& batch, const WriteResult& result,
                                   absl::Duration latency, absl::Time now) {
  absl::Time oldest = absl::InfiniteFuture();
  absl::Time oldest_by_path[2] = {absl::InfiniteFuture(), absl::InfiniteFuture()};
  for (const Message& m : batch.messages) {
    // An unrouted item's timestamp lies beyond the known schedule (a producer
    // clock ahead, perhaps): not a measure of freshness.
    if (!m.timestamp || !m.unrouted_reason.empty()) continue;
    oldest = std::min(oldest, *m.timestamp);
    absl::Time& o = oldest_by_path[m.path == Path::kLegacy ? 1 : 0];
    o = std::min(o, *m.timestamp);
  }
  absl::MutexLock lock(&mu_);
  const struct {
    const char* name;
    int64_t items;
    int64_t dead_letters;
    absl::Time oldest;
  } by_path[] = {{"kafka", result.kafka_items, result.kafka_dead_letters, oldest_by_path[0]},
                 {"legacy", result.legacy_items, result.legacy_dead_letters, oldest_by_path[1]}};
  for (const auto& p : by_path) {
    if (p.items == 0) continue;
    PathTotals& t = paths_[p.name];
    t.items += static_cast<uint64_t>(p.items);
    t.dead_letters += static_cast<uint64_t>(p.dead_letters);
    t.latency_ms.push_back(absl::ToDoubleMilliseconds(latency));
    if (p.oldest != absl::InfiniteFuture()) {
      t.freshness_ms.push_back(absl::ToDoubleMilliseconds(now - p.oldest));
    }
  }
  for (const auto& [tp, pw] : result.partitions) {
    PartitionWrite& total = partitions_[tp];
    total.rows += pw.rows;
    total.bytes += pw.bytes;
    total.dead_letters += pw.dead_letters;
  }
  kafka_items_ += static_cast<uint64_t>(result.kafka_items);
  legacy_items_ += static_cast<uint64_t>(result.legacy_items);
  ++batches_by_reason_[static_cast<int32_t>(batch.reason)];
  ++batches_;
  latency_ms_.push_back(absl::ToDoubleMilliseconds(latency));
  if (oldest != absl::InfiniteFuture()) {
    freshness_ms_.push_back(absl::ToDoubleMilliseconds(now - oldest));
  }
}

void PipelineStats::Retried() {
  absl::MutexLock lock(&mu_);
  ++retries_;
}

void PipelineStats::SetConsumerTimeout(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  consumer_timeout_ = timeout;
}

void PipelineStats::SetLag(const std::vector<PartitionLag>& lag) {
  absl::MutexLock lock(&mu_);
  lag_.clear();
  for (const PartitionLag& l : lag) lag_[l.partition] = l;
}

v1::PipelineStats PipelineStats::Take(const std::string& pipeline, uint64_t version) {
  absl::MutexLock lock(&mu_);
  v1::PipelineStats out;
  out.set_pipeline(pipeline);
  out.set_pipeline_version(version);
  std::map<TopicPartition, v1::PartitionStats*> by_partition;
  auto entry = [&](const TopicPartition& tp) {
    v1::PartitionStats*& p = by_partition[tp];
    if (p == nullptr) {
      p = out.add_partitions();
      p->set_topic(tp.topic);
      p->set_partition(tp.partition);
      p->set_consumer_lag(-1);
      p->set_consumer_lag_seconds(-1);
    }
    return p;
  };
  for (const auto& [tp, pw] : partitions_) {
    v1::PartitionStats* p = entry(tp);
    p->set_rows(static_cast<uint64_t>(pw.rows));
    p->set_bytes(static_cast<uint64_t>(pw.bytes));
    p->set_dead_letters(static_cast<uint64_t>(pw.dead_letters));
  }
  for (const auto& [tp, lag] : lag_) {
    v1::PartitionStats* p = entry(tp);
    p->set_consumer_lag(lag.lag);
    if (lag.lag_time) p->set_consumer_lag_seconds(absl::ToDoubleSeconds(*lag.lag_time));
    p->set_lag_status(lag.status);
  }
  for (const auto& [reason, n] : batches_by_reason_) (*out.mutable_batches_by_reason())[reason] = n;
  out.set_batches(batches_);
  out.set_consumer_timeout_ms(absl::ToDoubleMilliseconds(consumer_timeout_));
  out.set_retries(retries_);
  out.set_kafka_path_items(kafka_items_);
  out.set_legacy_path_items(legacy_items_);
  for (const auto& [name, t] : paths_) {
    v1::PathStats* p = out.add_paths();
    p->set_path(name);
    p->set_items(t.items);
    p->set_dead_letters(t.dead_letters);
    p->set_write_latency_p99_ms(Quantile(t.latency_ms, 0.99));
    p->set_freshness_p99_ms(Quantile(t.freshness_ms, 0.99));
  }
  paths_.clear();
  out.set_write_latency_p50_ms(Quantile(latency_ms_, 0.5));
  out.set_write_latency_p99_ms(Quantile(latency_ms_, 0.99));
  out.set_freshness_p99_ms(Quantile(freshness_ms_, 0.99));
  partitions_.clear();
  batches_by_reason_.clear();
  batches_ = 0;
  retries_ = 0;
  kafka_items_ = 0;
  legacy_items_ = 0;
  latency_ms_.clear();
  freshness_ms_.clear();
  return out;
}

}  // namespace sluice::worker
