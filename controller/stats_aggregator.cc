#include "controller/stats_aggregator.h"

#include <algorithm>

#include "common/proto_time.h"

namespace sluice::controller {

StatsAggregator::StatsAggregator(const Clock& clock, absl::Duration retention)
    : clock_(clock), retention_(retention) {}

void StatsAggregator::TrimLocked(absl::Time now) {
  while (!samples_.empty() && samples_.front().at < now - retention_) samples_.pop_front();
  // A report is re-sent within moments, never after the retention: the memory of
  // incarnations that stopped reporting is bounded by it.
  for (auto it = last_report_.begin(); it != last_report_.end();) {
    it = it->second.at < now - retention_ ? last_report_.erase(it) : std::next(it);
  }
}

bool StatsAggregator::Add(const std::string& worker_id, const std::string& build_version,
                          const v1::StatsReport& report) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  TrimLocked(now);
  // Its de-duplication may be forgotten by now: a report this old is not counted.
  if (report.has_interval_end() && ToAbslTime(report.interval_end()) < now - retention_) {
    return false;
  }
  LastReport& last = last_report_[{worker_id, report.incarnation()}];
  if (report.sequence() != 0 && report.sequence() <= last.sequence) return false;
  last.sequence = report.sequence();
  last.at = now;
  for (const v1::PipelineStats& p : report.pipelines()) {
    samples_.push_back({now, worker_id, build_version, p});
  }
  return true;
}

std::vector<v1::StatsRow> StatsAggregator::Query(v1::StatsGroupBy group_by,
                                                 absl::Duration window) const {
  absl::MutexLock lock(&mu_);
  const absl::Time since = clock_.Now() - window;
  std::map<std::string, v1::StatsRow> rows;
  // Latest lag per (key, worker, pipeline, topic, partition): lag is a gauge.
  std::map<std::string, std::map<std::string, int64_t>> lag;
  for (const Sample& s : samples_) {
    if (s.at < since) continue;
    if (group_by == v1::STATS_GROUP_BY_PATH) {
      for (const v1::PathStats& p : s.stats.paths()) {
        v1::StatsRow& row = rows[p.path()];
        row.set_key(p.path());
        row.set_rows(row.rows() + p.items());
        row.set_dead_letters(row.dead_letters() + p.dead_letters());
        row.set_write_latency_p99_ms(std::max(row.write_latency_p99_ms(), p.write_latency_p99_ms()));
        row.set_freshness_p99_ms(std::max(row.freshness_p99_ms(), p.freshness_p99_ms()));
        if (p.path() == "kafka") row.set_kafka_path_items(row.kafka_path_items() + p.items());
        if (p.path() == "legacy") row.set_legacy_path_items(row.legacy_path_items() + p.items());
      }
      continue;
    }
    std::string key;
    switch (group_by) {
      case v1::STATS_GROUP_BY_WORKER:
        key = s.worker_id;
        break;
      case v1::STATS_GROUP_BY_VERSION:
        key = s.build_version;
        break;
      default:
        key = s.stats.pipeline();
    }
    v1::StatsRow& row = rows[key];
    row.set_key(key);
    for (const v1::PartitionStats& p : s.stats.partitions()) {
      row.set_rows(row.rows() + p.rows());
      row.set_bytes(row.bytes() + p.bytes());
      row.set_dead_letters(row.dead_letters() + p.dead_letters());
      if (p.consumer_lag() >= 0) {
        lag[key][s.worker_id + "/" + s.stats.pipeline() + "/" + p.topic() + "/" +
                 std::to_string(p.partition())] = p.consumer_lag();
      }
    }
    row.set_retries(row.retries() + s.stats.retries());
    row.set_kafka_path_items(row.kafka_path_items() + s.stats.kafka_path_items());
    row.set_legacy_path_items(row.legacy_path_items() + s.stats.legacy_path_items());
    row.set_batches(row.batches() + s.stats.batches());
    row.set_write_latency_p99_ms(
        std::max(row.write_latency_p99_ms(), s.stats.write_latency_p99_ms()));
    row.set_freshness_p99_ms(std::max(row.freshness_p99_ms(), s.stats.freshness_p99_ms()));
  }
  std::vector<v1::StatsRow> out;
  for (auto& [key, row] : rows) {
    row.set_rows_per_second(static_cast<double>(row.rows()) / absl::ToDoubleSeconds(window));
    int64_t total_lag = 0;
    for (const auto& [partition, l] : lag[key]) total_lag += l;
    row.set_consumer_lag(total_lag);
    out.push_back(row);
  }
  return out;
}

StatsAggregator::PathHealth StatsAggregator::Health(const std::set<std::string>& pipelines,
                                                    absl::Duration window) const {
  absl::MutexLock lock(&mu_);
  const absl::Time since = clock_.Now() - window;
  PathHealth h;
  for (const Sample& s : samples_) {
    if (s.at < since || pipelines.count(s.stats.pipeline()) == 0) continue;
    for (const v1::PathStats& p : s.stats.paths()) {
      if (p.path() != "kafka") continue;
      h.kafka_items += p.items();
      h.dead_letters += p.dead_letters();
      h.freshness_p99_ms = std::max(h.freshness_p99_ms, p.freshness_p99_ms());
    }
    h.retries += s.stats.retries();
    h.batches += s.stats.batches();
  }
  return h;
}

std::map<std::pair<std::string, std::string>, double> StatsAggregator::RowsPerSecond(
    absl::Duration window) const {
  absl::MutexLock lock(&mu_);
  const absl::Time since = clock_.Now() - window;
  std::map<std::pair<std::string, std::string>, double> out;
  for (const Sample& s : samples_) {
    if (s.at < since) continue;
    double& rate = out[{s.stats.pipeline(), s.build_version}];
    for (const v1::PartitionStats& p : s.stats.partitions()) {
      rate += static_cast<double>(p.rows()) / absl::ToDoubleSeconds(window);
    }
  }
  return out;
}

}  // namespace sluice::controller
