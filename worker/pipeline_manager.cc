#include "worker/pipeline_manager.h"

#include <google/protobuf/util/message_differencer.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace sluice::worker {

bool OnlyLimitsDiffer(const v1::PipelineConfig& a, const v1::PipelineConfig& b) {
  v1::PipelineConfig x = a, y = b;
  x.clear_batch();
  y.clear_batch();
  x.clear_desired_workers();
  y.clear_desired_workers();
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

std::vector<v1::PipelineError> PipelineManager::Apply(const v1::Assignment& assignment) {
  absl::MutexLock lock(&mu_);
  std::vector<v1::PipelineError> errors;
  std::map<std::string, std::shared_ptr<const flags::FlagSchedule>> flags;
  for (const v1::Flag& f : assignment.flags()) {
    flags[f.name()] = std::make_shared<const flags::FlagSchedule>(f);
  }
  auto flag_of = [&](const v1::PipelineConfig& c) -> std::shared_ptr<const flags::FlagSchedule> {
    if (!c.has_rollout()) return nullptr;
    auto it = flags.find(c.rollout().flag());
    return it == flags.end() ? nullptr : it->second;
  };
  std::set<std::string> wanted;
  for (const v1::AssignedPipeline& a : assignment.pipelines()) {
    if (!a.paused()) wanted.insert(a.config().name());
  }
  // Stop first what goes away, so its partitions are handed back promptly.
  for (auto it = runners_.begin(); it != runners_.end();) {
    if (wanted.count(it->first) == 0) {
      it->second->Stop();
      it = runners_.erase(it);
    } else {
      ++it;
    }
  }
  for (const v1::AssignedPipeline& a : assignment.pipelines()) {
    if (a.paused()) continue;
    const std::string& name = a.config().name();
    auto it = runners_.find(name);
    if (it != runners_.end()) {
      PipelineRunner& running = *it->second;
      std::shared_ptr<const flags::FlagSchedule> flag = flag_of(a.config());
      if (running.version() == a.version() || OnlyLimitsDiffer(running.config(), a.config())) {
        if (running.version() != a.version()) running.Update(a.config(), a.version());
        if (flag != nullptr && flag->version() != running.flag_version()) running.SetFlag(flag);
        continue;
      }
    }
    absl::StatusOr<std::unique_ptr<PipelineRunner>> started = [&] {
      // Stop the old version before starting the new one: both would be members
      // of the same group and fight over its partitions.
      if (it != runners_.end()) it->second->Stop();
      return factory_(a.config(), a.version(), flag_of(a.config()));
    }();
    if (!started.ok()) {
      LOG(ERROR) << "cannot apply pipeline " << name << " v" << a.version() << ": "
                 << started.status().message();
      v1::PipelineError e;
      e.set_pipeline(name);
      e.set_pipeline_version(a.version());
      e.set_error_detail(std::string(started.status().message()));
      errors.push_back(std::move(e));
      if (it != runners_.end()) {
        // Keep the last good version running.
        absl::StatusOr<std::unique_ptr<PipelineRunner>> previous = factory_(
            it->second->config(), it->second->version(), flag_of(it->second->config()));
        if (previous.ok()) {
          it->second = std::move(*previous);
        } else {
          runners_.erase(it);
        }
      }
      continue;
    }
    runners_[name] = std::move(*started);
  }
  return errors;
}

std::vector<v1::PipelineStats> PipelineManager::TakeStats() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::PipelineStats> out;
  for (auto& [name, runner] : runners_) out.push_back(runner->TakeStats());
  return out;
}

void PipelineManager::StopAll() {
  absl::MutexLock lock(&mu_);
  for (auto& [name, runner] : runners_) runner->Stop();
  runners_.clear();
}

absl::Status PipelineManager::Ready() const {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, runner] : runners_) {
    absl::Status s = runner->Ready();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<std::string> PipelineManager::RunningPipelines() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, runner] : runners_) out.push_back(name);
  return out;
}

}  // namespace sluice::worker
