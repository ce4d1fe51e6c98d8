#include "controller/stats_rollup_writer.h"

#include <vector>

#include "glog/logging.h"

namespace sluice::controller {

StatsRollupWriter::StatsRollupWriter(StatsAggregator* stats, StatsRollupStore* store,
                                     const Clock& clock, absl::Duration retention,
                                     absl::Duration interval)
    : stats_(stats), store_(store), clock_(clock), retention_(retention), interval_(interval) {}

absl::Status StatsRollupWriter::Flush() {
  absl::MutexLock lock(&mu_);
  for (MinuteRollup& r : stats_->TakeChangedMinutes()) {
    RollupKey key{r.minute, r.worker, r.pipeline, r.version};
    pending_[std::move(key)] = std::move(r);
  }
  const absl::Time forget_before = clock_.Now() - retention_;
  std::vector<MinuteRollup> batch;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.minute < forget_before) {  // too old to be kept anyway
      it = pending_.erase(it);
    } else {
      batch.push_back(it->second);
      ++it;
    }
  }
  absl::Status saved = store_->SaveStatsRollups(batch, forget_before);
  if (saved.ok()) pending_.clear();
  return saved;
}

void StatsRollupWriter::DropPending() {
  absl::MutexLock lock(&mu_);
  pending_.clear();
}

void StatsRollupWriter::Run(const std::atomic<bool>& stop, const Leadership& leadership) {
  bool failing = false;
  absl::Time next = clock_.Now() + interval_;
  while (!stop.load()) {
    if (clock_.Now() < next) {
      clock_.SleepFor(std::min(absl::Milliseconds(200), next - clock_.Now()));
      continue;
    }
    next = clock_.Now() + interval_;
    if (!leadership.IsLeader()) continue;
    absl::Status s = Flush();
    if (!s.ok() && !failing) {
      LOG(WARNING) << "stats rollups not stored (retrying every " << absl::FormatDuration(interval_)
                   << "): " << s.message();
    } else if (s.ok() && failing) {
      LOG(INFO) << "stats rollups stored again";
    }
    failing = !s.ok();
  }
}

}  // namespace sluice::controller
