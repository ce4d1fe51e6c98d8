#include "controller/worker_registry_writer.h"

#include <vector>

#include "glog/logging.h"

namespace sluice::controller {

WorkerRegistryWriter::WorkerRegistryWriter(const Fleet* fleet, WorkerRegistry* registry,
                                           const Clock& clock, const Leadership* leadership)
    : fleet_(fleet), registry_(registry), clock_(clock), leadership_(leadership), thread_([this] {
        Run();
      }) {}

WorkerRegistryWriter::~WorkerRegistryWriter() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
  SaveQueued();
}

void WorkerRegistryWriter::Save(const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  queued_.insert(worker_id);
}

void WorkerRegistryWriter::Flush() {
  absl::MutexLock lock(&mu_);
  const uint64_t wanted = rounds_done_ + 2;  // the round under way may predate the call
  rounds_wanted_ = std::max(rounds_wanted_, wanted);
  // After the writer stopped, nothing more is tried.
  auto done = [this, wanted]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return rounds_done_ >= wanted || stop_; };
  mu_.Await(absl::Condition(&done));
}

void WorkerRegistryWriter::Run() {
  absl::Duration wait = absl::ZeroDuration();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // Wakes for work, a Flush, or the end; a failed save waits a second.
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !queued_.empty() || rounds_wanted_ > rounds_done_;
      };
      mu_.Await(absl::Condition(&ready));
      if (stop_) return;
    }
    if (wait > absl::ZeroDuration()) clock_.SleepFor(wait);
    wait = SaveQueued() ? absl::ZeroDuration() : absl::Seconds(1);
    absl::MutexLock lock(&mu_);
    ++rounds_done_;
  }
}

bool WorkerRegistryWriter::SaveQueued() {
  std::set<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    ids.swap(queued_);
  }
  if (ids.empty()) return true;
  // Not leading (or not confirmed lately): the rows wait, so a replica that
  // stepped down does not overwrite what the new leader records.
  if (leadership_ != nullptr && !leadership_->IsLeader()) {
    absl::MutexLock lock(&mu_);
    queued_.insert(ids.begin(), ids.end());
    return false;
  }
  std::vector<KnownWorker> workers;
  for (const std::string& id : ids) {
    if (std::optional<KnownWorker> known = fleet_->Known(id)) workers.push_back(*std::move(known));
  }
  if (workers.empty()) return true;
  absl::Status last = registry_->SaveWorkers(workers);
  if (last.ok()) return true;
  std::vector<std::string> failed;
  if (absl::IsUnavailable(last)) {
    // The database is away: every row waits for the next round (one by one would
    // multiply the outage's timeouts by the rows).
    failed.assign(ids.begin(), ids.end());
  } else {
    // The database refused the batch: one row it refuses must not hold back the
    // others, so one by one, until the database goes away.
    for (const KnownWorker& w : workers) {
      if (!failed.empty() && absl::IsUnavailable(last)) {
        failed.push_back(w.hello.worker_id());
        continue;
      }
      if (absl::Status s = registry_->SaveWorkers({w}); !s.ok()) {
        failed.push_back(w.hello.worker_id());
        last = s;
      }
    }
    if (failed.empty()) return true;
  }
  LOG(WARNING) << failed.size() << " workers (" << failed.front()
               << (failed.size() > 1 ? ", ..." : "")
               << ") not recorded for a controller restart, tried again in a second: "
               << last.message();
  absl::MutexLock lock(&mu_);
  queued_.insert(failed.begin(), failed.end());
  return false;
}

}  // namespace sluice::controller
