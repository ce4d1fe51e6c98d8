#include "controller/worker_registry_writer.h"

#include <vector>

#include "glog/logging.h"

namespace sluice::controller {

WorkerRegistryWriter::WorkerRegistryWriter(const Fleet* fleet, WorkerRegistry* registry)
    : fleet_(fleet), registry_(registry), thread_([this] { Run(); }) {}

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
  auto done = [this, wanted]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return rounds_done_ >= wanted; };
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
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
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
  std::vector<KnownWorker> workers;
  for (const std::string& id : ids) {
    if (std::optional<KnownWorker> known = fleet_->Known(id)) workers.push_back(*std::move(known));
  }
  if (workers.empty()) return true;
  if (absl::Status s = registry_->SaveWorkers(workers); !s.ok()) {
    LOG(WARNING) << workers.size() << " workers not recorded for a controller restart (tried "
                 << "again in a second): " << s.message();
    absl::MutexLock lock(&mu_);
    queued_.insert(ids.begin(), ids.end());
    return false;
  }
  return true;
}

}  // namespace sluice::controller
