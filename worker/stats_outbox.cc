#include "worker/stats_outbox.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <tuple>

namespace sluice::worker {

void MergePipelineStats(const v1::PipelineStats& from, v1::PipelineStats* into) {
  std::map<std::pair<std::string, int32_t>, v1::PartitionStats> partitions;
  for (const v1::PartitionStats& p : into->partitions()) {
    v1::PartitionStats& e = partitions[{p.topic(), p.partition()}];
    e = p;
    // Gauges: only the later interval's values stand.
    e.set_consumer_lag(-1);
    e.set_consumer_lag_seconds(-1);
    e.set_lag_status(v1::LAG_STATUS_UNSPECIFIED);
  }
  for (const v1::PartitionStats& p : from.partitions()) {
    v1::PartitionStats& e = partitions[{p.topic(), p.partition()}];
    e.set_topic(p.topic());
    e.set_partition(p.partition());
    e.set_rows(e.rows() + p.rows());
    e.set_bytes(e.bytes() + p.bytes());
    e.set_dead_letters(e.dead_letters() + p.dead_letters());
    e.set_consumer_lag(p.consumer_lag());
    e.set_consumer_lag_seconds(p.consumer_lag_seconds());
    e.set_lag_status(p.lag_status());
  }
  into->clear_partitions();
  for (auto& [key, p] : partitions) *into->add_partitions() = std::move(p);

  for (const auto& [reason, n] : from.batches_by_reason()) {
    (*into->mutable_batches_by_reason())[reason] += n;
  }
  into->set_retries(into->retries() + from.retries());
  into->set_batches(into->batches() + from.batches());
  into->set_kafka_path_items(into->kafka_path_items() + from.kafka_path_items());
  into->set_legacy_path_items(into->legacy_path_items() + from.legacy_path_items());
  into->set_write_latency_p50_ms(std::max(into->write_latency_p50_ms(), from.write_latency_p50_ms()));
  into->set_write_latency_p99_ms(std::max(into->write_latency_p99_ms(), from.write_latency_p99_ms()));
  into->set_freshness_p99_ms(std::max(into->freshness_p99_ms(), from.freshness_p99_ms()));
  into->set_problem(from.problem());  // the state at the end of the later interval
  into->set_consumer_timeout_ms(from.consumer_timeout_ms());

  for (const v1::PathStats& p : from.paths()) {
    v1::PathStats* e = nullptr;
    for (v1::PathStats& q : *into->mutable_paths()) {
      if (q.path() == p.path()) e = &q;
    }
    if (e == nullptr) {
      e = into->add_paths();
      e->set_path(p.path());
    }
    e->set_items(e->items() + p.items());
    e->set_dead_letters(e->dead_letters() + p.dead_letters());
    e->set_write_latency_p99_ms(std::max(e->write_latency_p99_ms(), p.write_latency_p99_ms()));
    e->set_freshness_p99_ms(std::max(e->freshness_p99_ms(), p.freshness_p99_ms()));
  }
}

void StatsOutbox::Add(std::vector<v1::PipelineStats> deltas) {
  for (v1::PipelineStats& d : deltas) {
    auto [it, inserted] = pending_.try_emplace({d.pipeline(), d.pipeline_version()});
    if (inserted) {
      it->second = std::move(d);
    } else {
      MergePipelineStats(d, &it->second);
    }
  }
}

const v1::StatsReport& StatsOutbox::Next(absl::Time now) {
  if (!in_flight_) {
    v1::StatsReport& r = in_flight_.emplace();
    r.set_incarnation(incarnation_);
    r.set_sequence(next_sequence_++);
    *r.mutable_interval_end() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
    for (auto& [key, p] : pending_) *r.add_pipelines() = std::move(p);
    pending_.clear();
  }
  return *in_flight_;
}

std::vector<v1::PipelineStats> StatsOutbox::pending() const {
  std::vector<v1::PipelineStats> out;
  for (const auto& [key, p] : pending_) out.push_back(p);
  return out;
}

}  // namespace sluice::worker
