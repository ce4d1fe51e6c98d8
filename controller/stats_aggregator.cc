#include "controller/stats_aggregator.h"

#include <algorithm>

#include "common/proto_time.h"

namespace sluice::controller {
namespace {

absl::Time FloorTo(absl::Time t, absl::Duration width) {
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), width);
}

}  // namespace

void StatsCounters::Merge(const StatsCounters& o) {
  rows += o.rows;
  bytes += o.bytes;
  dead_letters += o.dead_letters;
  retries += o.retries;
  batches += o.batches;
  kafka_path_items += o.kafka_path_items;
  legacy_path_items += o.legacy_path_items;
  write_latency_p99_ms = std::max(write_latency_p99_ms, o.write_latency_p99_ms);
  freshness_p99_ms = std::max(freshness_p99_ms, o.freshness_p99_ms);
  for (auto [mine, theirs] : {std::pair{&kafka, &o.kafka}, std::pair{&legacy, &o.legacy}}) {
    mine->items += theirs->items;
    mine->dead_letters += theirs->dead_letters;
    mine->write_latency_p99_ms = std::max(mine->write_latency_p99_ms, theirs->write_latency_p99_ms);
    mine->freshness_p99_ms = std::max(mine->freshness_p99_ms, theirs->freshness_p99_ms);
  }
}

StatsAggregator::StatsAggregator(const Clock& clock, absl::Duration retention,
                                 absl::Duration silent_after)
    : clock_(clock), retention_(retention), silent_after_(silent_after) {}

StatsAggregator::NameId StatsAggregator::Intern(const std::string& name) {
  auto [it, inserted] = name_ids_.try_emplace(name, static_cast<NameId>(names_.size()));
  if (inserted) names_.push_back(name);
  return it->second;
}

void StatsAggregator::AddTo(std::deque<Bucket>* buckets, absl::Time start, const Key& key,
                            const Counters& c) {
  // Reports arrive in time order (stamped on arrival), so the bucket is the last
  // one or a new one.
  if (buckets->empty() || buckets->back().start < start) buckets->push_back({start, {}});
  buckets->back().entries[key].Merge(c);
  buckets->back().changed = true;
}

void StatsAggregator::TrimLocked(absl::Time now) {
  while (!fine_.empty() && fine_.front().start + kFineWidth <= now - kFineSpan) fine_.pop_front();
  while (!coarse_.empty() && coarse_.front().start + kCoarseWidth <= now - retention_) {
    coarse_.pop_front();
  }
  // The maps below are walked whole: once a second, not at every report (a
  // thousand workers report 200 times a second).
  if (now < next_map_trim_) return;
  next_map_trim_ = now + absl::Seconds(1);
  // (absl's erase(iterator) leaves the other iterators valid.)
  for (auto it = lag_.begin(); it != lag_.end();) {
    if (it->second.at < now - retention_) {
      lag_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto it = worker_seen_.begin(); it != worker_seen_.end();) {
    if (it->second < now - retention_) {
      worker_seen_.erase(it++);
    } else {
      ++it;
    }
  }
  // A report is re-sent within moments, never after the retention: the memory of
  // incarnations that stopped reporting is bounded by it.
  for (auto it = last_report_.begin(); it != last_report_.end();) {
    if (it->second.at < now - retention_) {
      last_report_.erase(it++);
    } else {
      ++it;
    }
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
  const NameId worker = Intern(worker_id);
  const NameId version = Intern(build_version);
  worker_seen_[worker] = now;
  for (const v1::PipelineStats& p : report.pipelines()) {
    const Key key{worker, Intern(p.pipeline()), version};
    Counters c;
    for (const v1::PartitionStats& part : p.partitions()) {
      c.rows += part.rows();
      c.bytes += part.bytes();
      c.dead_letters += part.dead_letters();
      const LagKey lag_key{worker, key.pipeline, Intern(part.topic()), part.partition()};
      if (part.consumer_lag() >= 0) {
        lag_[lag_key] = {part.consumer_lag(), now, version,
                         // Reports of workers that predate it carry 0: unknown.
                         part.consumer_lag_seconds() > 0 || part.consumer_lag() == 0
                             ? part.consumer_lag_seconds()
                             : -1,
                         part.lag_status()};
      } else if (auto held = lag_.find(lag_key); held != lag_.end()) {
        // Still held, its lag unknown for now: the last figure stands, and the
        // partition is not taken for let go.
        held->second.at = now;
        held->second.version = version;
        held->second.status = part.lag_status();
      }
    }
    rows_reported_[{key.pipeline, version}] += c.rows;
    c.retries = p.retries();
    c.batches = p.batches();
    c.kafka_path_items = p.kafka_path_items();
    c.legacy_path_items = p.legacy_path_items();
    c.write_latency_p99_ms = p.write_latency_p99_ms();
    c.freshness_p99_ms = p.freshness_p99_ms();
    for (const v1::PathStats& path : p.paths()) {
      PathCounters* pc = path.path() == "kafka"    ? &c.kafka
                         : path.path() == "legacy" ? &c.legacy
                                                   : nullptr;
      if (pc == nullptr) continue;
      pc->items += path.items();
      pc->dead_letters += path.dead_letters();
      pc->write_latency_p99_ms = std::max(pc->write_latency_p99_ms, path.write_latency_p99_ms());
      pc->freshness_p99_ms = std::max(pc->freshness_p99_ms, path.freshness_p99_ms());
    }
    AddTo(&fine_, FloorTo(now, kFineWidth), key, c);
    AddTo(&coarse_, FloorTo(now, kCoarseWidth), key, c);
  }
  return true;
}

template <typename F>
absl::Duration StatsAggregator::ForEachInWindow(absl::Duration window, F f) const {
  const absl::Time now = clock_.Now();
  // After a restore the 1 s buckets hold only what came since.
  const bool fine = window <= kFineSpan && now - window >= fine_complete_since_;
  const absl::Duration width = fine ? kFineWidth : kCoarseWidth;
  const absl::Time from = FloorTo(now - window, width);
  const std::deque<Bucket>& buckets = fine ? fine_ : coarse_;
  // Newest first: stop at the first bucket before the window.
  for (auto b = buckets.rbegin(); b != buckets.rend() && b->start >= from; ++b) {
    for (const auto& [key, counters] : b->entries) f(key, counters);
  }
  return std::max(now - from, window);
}

std::vector<v1::StatsRow> StatsAggregator::Query(v1::StatsGroupBy group_by,
                                                 absl::Duration window) const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, v1::StatsRow> rows;
  absl::Duration covered = window;
  if (group_by == v1::STATS_GROUP_BY_PATH) {
    covered = ForEachInWindow(window, [&](const Key&, const Counters& c) {
      for (const auto& [name, p] :
           {std::pair<const char*, const PathCounters&>{"kafka", c.kafka},
            std::pair<const char*, const PathCounters&>{"legacy", c.legacy}}) {
        if (p.items == 0 && p.dead_letters == 0) continue;
        v1::StatsRow& row = rows[name];
        row.set_key(name);
        row.set_rows(row.rows() + p.items);
        row.set_dead_letters(row.dead_letters() + p.dead_letters);
        row.set_write_latency_p99_ms(std::max(row.write_latency_p99_ms(), p.write_latency_p99_ms));
        row.set_freshness_p99_ms(std::max(row.freshness_p99_ms(), p.freshness_p99_ms));
        if (name == std::string("kafka"))
          row.set_kafka_path_items(row.kafka_path_items() + p.items);
        if (name == std::string("legacy")) {
          row.set_legacy_path_items(row.legacy_path_items() + p.items);
        }
      }
    });
  } else {
    auto key_of = [&](NameId worker, NameId pipeline, NameId version) -> const std::string& {
      switch (group_by) {
        case v1::STATS_GROUP_BY_WORKER:
          return names_[worker];
        case v1::STATS_GROUP_BY_VERSION:
          return names_[version];
        default:
          return names_[pipeline];
      }
    };
    covered = ForEachInWindow(window, [&](const Key& k, const Counters& c) {
      const std::string& key = key_of(k.worker, k.pipeline, k.version);
      v1::StatsRow& row = rows[key];
      if (row.key().empty()) row.set_consumer_lag_seconds(-1);
      row.set_key(key);
      row.set_rows(row.rows() + c.rows);
      row.set_bytes(row.bytes() + c.bytes);
      row.set_dead_letters(row.dead_letters() + c.dead_letters);
      row.set_retries(row.retries() + c.retries);
      row.set_kafka_path_items(row.kafka_path_items() + c.kafka_path_items);
      row.set_legacy_path_items(row.legacy_path_items() + c.legacy_path_items);
      row.set_batches(row.batches() + c.batches);
      row.set_write_latency_p99_ms(std::max(row.write_latency_p99_ms(), c.write_latency_p99_ms));
      row.set_freshness_p99_ms(std::max(row.freshness_p99_ms(), c.freshness_p99_ms));
    });
    // The latest lag of each partition, from the worker that reported it last.
    const absl::Time now = clock_.Now();
    const absl::Time since = now - window;
    // Of two workers reporting a partition in the same instant, the one interned
    // last counts: one figure per partition, never two.
    absl::flat_hash_map<std::tuple<NameId, NameId, int32_t>, std::pair<absl::Time, NameId>> latest;
    for (const auto& [k, l] : lag_) {
      auto [it, inserted] = latest.try_emplace({k.pipeline, k.topic, k.partition}, l.at, k.worker);
      if (!inserted) it->second = std::max(it->second, std::make_pair(l.at, k.worker));
    }
    for (const auto& [k, l] : lag_) {
      if (l.at < now - retention_) continue;  // forgotten at the next trim
      if (std::make_pair(l.at, k.worker) != latest[{k.pipeline, k.topic, k.partition}]) {
        continue;  // another worker reported it since: the partition moved on
      }
      auto seen = worker_seen_.find(k.worker);
      const absl::Time worker_seen = seen == worker_seen_.end() ? l.at : seen->second;
      if (worker_seen - l.at > silent_after_) continue;  // the worker let it go
      const bool silent = now - worker_seen > silent_after_;
      if (!silent && l.at < since) continue;
      const std::string& key = key_of(k.worker, k.pipeline, l.version);
      v1::StatsRow& row = rows[key];
      if (row.key().empty()) {
        row.set_key(key);
        row.set_consumer_lag_seconds(-1);
      }
      row.set_consumer_lag(row.consumer_lag() + l.lag);
      double seconds = l.seconds;
      v1::LagStatus status = l.status;
      if (silent) {
        status = v1::LAG_STATUS_STOP;
        // Nothing was committed since: what was waiting then waited this long more.
        if (seconds > 0) seconds += absl::ToDoubleSeconds(now - l.at);
      }
      row.set_consumer_lag_seconds(std::max(row.consumer_lag_seconds(), seconds));
      // The enum is ordered from unknown to STOP: the worst is the largest.
      row.set_lag_status(std::max(row.lag_status(), status));
    }
  }
  std::vector<v1::StatsRow> out;
  out.reserve(rows.size());
  for (auto& [key, row] : rows) {
    // Over the time the buckets cover: a window widened to whole buckets counts
    // more rows than the window alone.
    row.set_rows_per_second(static_cast<double>(row.rows()) / absl::ToDoubleSeconds(covered));
    out.push_back(std::move(row));
  }
  return out;
}

StatsAggregator::PathHealth StatsAggregator::Health(const std::set<std::string>& pipelines,
                                                    absl::Duration window) const {
  absl::MutexLock lock(&mu_);
  std::set<NameId> ids;
  for (const std::string& p : pipelines) {
    if (auto it = name_ids_.find(p); it != name_ids_.end()) ids.insert(it->second);
  }
  PathHealth h;
  if (ids.empty()) return h;
  ForEachInWindow(window, [&](const Key& k, const Counters& c) {
    if (ids.count(k.pipeline) == 0) return;
    h.kafka_items += c.kafka.items;
    h.dead_letters += c.kafka.dead_letters;
    h.freshness_p99_ms = std::max(h.freshness_p99_ms, c.kafka.freshness_p99_ms);
    h.retries += c.retries;
    h.batches += c.batches;
  });
  return h;
}

std::map<std::pair<std::string, std::string>, double> StatsAggregator::RowsPerSecond(
    absl::Duration window) const {
  absl::MutexLock lock(&mu_);
  std::map<std::pair<std::string, std::string>, double> rates;
  const absl::Duration covered = ForEachInWindow(window, [&](const Key& k, const Counters& c) {
    rates[{names_[k.pipeline], names_[k.version]}] += static_cast<double>(c.rows);
  });
  for (auto& [key, rate] : rates) rate /= absl::ToDoubleSeconds(covered);
  return rates;
}

std::map<std::pair<std::string, std::string>, uint64_t> StatsAggregator::RowsReported() const {
  absl::MutexLock lock(&mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> out;
  for (const auto& [key, rows] : rows_reported_)
    out[{names_[key.first], names_[key.second]}] = rows;
  return out;
}

std::vector<MinuteRollup> StatsAggregator::TakeChangedMinutes() {
  absl::MutexLock lock(&mu_);
  std::vector<MinuteRollup> out;
  for (Bucket& b : coarse_) {
    if (!b.changed) continue;
    b.changed = false;
    for (const auto& [key, counters] : b.entries) {
      out.push_back(
          {b.start, names_[key.worker], names_[key.pipeline], names_[key.version], counters});
    }
  }
  return out;
}

void StatsAggregator::RestoreMinutes(const std::vector<MinuteRollup>& rollups) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  bool added = false;
  for (const MinuteRollup& r : rollups) {
    const absl::Time start = FloorTo(r.minute, kCoarseWidth);
    if (start + kCoarseWidth <= now - retention_ || start > now) continue;
    // Buckets stay in time order, so AddTo still finds the newest last.
    auto at = std::lower_bound(coarse_.begin(), coarse_.end(), start,
                               [](const Bucket& b, absl::Time t) { return b.start < t; });
    if (at == coarse_.end() || at->start != start) at = coarse_.insert(at, Bucket{start, {}});
    added |=
        at->entries
            .try_emplace(Key{Intern(r.worker), Intern(r.pipeline), Intern(r.version)}, r.counters)
            .second;
  }
  if (added) fine_complete_since_ = now;
}

void StatsAggregator::Clear() {
  absl::MutexLock lock(&mu_);
  fine_.clear();
  coarse_.clear();
  lag_.clear();
  worker_seen_.clear();
  last_report_.clear();
  fine_complete_since_ = clock_.Now();
}

size_t StatsAggregator::entries() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const Bucket& b : fine_) n += b.entries.size();
  for (const Bucket& b : coarse_) n += b.entries.size();
  return n;
}

}  // namespace sluice::controller
