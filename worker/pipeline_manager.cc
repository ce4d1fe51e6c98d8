#include "worker/pipeline_manager.h"

#include <google/protobuf/util/message_differencer.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/kafka_property_policy.h"
#include "common/proto_time.h"
#include "common/unknown_fields.h"
#include "glog/logging.h"
#include "worker/router.h"

namespace sluice::worker {

bool OnlyLimitsDiffer(const v1::PipelineConfig& a, const v1::PipelineConfig& b) {
  v1::PipelineConfig x = a, y = b;
  x.clear_batch();
  y.clear_batch();
  x.clear_desired_workers();
  y.clear_desired_workers();
  return google::protobuf::util::MessageDifferencer::Equals(x, y);
}

PipelineManager::PipelineManager(PipelineFactory factory, const Clock* clock,
                                 PipelineManagerOptions options)
    : factory_(std::move(factory)), clock_(clock), options_(options) {}

void PipelineManager::StopAndRemove(const std::string& name) {
  std::unique_ptr<Pipeline> stopping;
  {
    absl::MutexLock lock(&mu_);
    auto it = pipelines_.find(name);
    if (it == pipelines_.end()) return;
    stopping = std::move(it->second.pipeline);
    pipelines_.erase(it);
  }
  stopping->Stop();
  v1::PipelineStats last = stopping->TakeStats();
  absl::MutexLock lock(&mu_);
  leftover_stats_.push_back(std::move(last));
}

std::vector<v1::PipelineError> PipelineManager::Apply(const v1::Assignment& assignment) {
  absl::MutexLock apply(&apply_mu_);
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
  std::vector<std::string> unwanted;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, e] : pipelines_) {
      if (wanted.count(name) == 0) unwanted.push_back(name);
    }
  }
  for (const std::string& name : unwanted) StopAndRemove(name);

  for (const v1::AssignedPipeline& a : assignment.pipelines()) {
    if (a.paused()) continue;
    const std::string& name = a.config().name();
    // Defence in depth (issue 8): a pushed property that runs a command or loads
    // code is refused before anything is built from the config; the controller
    // should never have sent it. Worker-local --kafka-property flags are not
    // checked: they are not in the pushed config.
    absl::Status s = CheckPipelineKafkaProperties(a.config().kafka_properties());
    if (std::optional<std::string> unknown = FirstUnknownField(a.config()); s.ok() && unknown) {
      // A newer controller's field (a write mode, a tolerance): running the config
      // without it would do something else than asked.
      s = absl::FailedPreconditionError(
          absl::StrCat("the config sets field ", *unknown,
                       ", which this worker build does not know; upgrade the worker"));
    }
    if (!s.ok()) {
      LOG(ERROR) << "refusing pipeline " << name << " v" << a.version() << ": " << s.message();
      v1::PipelineError e;
      e.set_pipeline(name);
      e.set_pipeline_version(a.version());
      e.set_error_detail(std::string(s.message()));
      errors.push_back(std::move(e));
      continue;
    }
    std::shared_ptr<const flags::FlagSchedule> flag = flag_of(a.config());
    Pipeline* running = nullptr;
    {
      absl::MutexLock lock(&mu_);
      auto it = pipelines_.find(name);
      if (it != pipelines_.end()) running = it->second.pipeline.get();
    }
    if (running != nullptr &&
        (running->version() == a.version() || OnlyLimitsDiffer(running->config(), a.config()))) {
      if (running->version() != a.version()) running->Update(a.config(), a.version());
      if (flag != nullptr && flag->version() != running->flag_version()) {
        running->SetFlag(flag);
        absl::MutexLock lock(&mu_);
        pipelines_[name].flag = flag;
      }
      continue;
    }
    // Prepare the new version while the old one (if any) keeps running: a
    // version that cannot run must not cost the one that does a rebalance.
    absl::StatusOr<std::unique_ptr<Pipeline>> prepared = factory_(a.config(), a.version(), flag);
    if (!prepared.ok()) {
      LOG(ERROR) << "cannot apply pipeline " << name << " v" << a.version() << ": "
                 << prepared.status().message()
                 << (running != nullptr ? absl::StrCat("; v", running->version(), " keeps running")
                                        : "");
      v1::PipelineError e;
      e.set_pipeline(name);
      e.set_pipeline_version(a.version());
      e.set_error_detail(std::string(prepared.status().message()));
      errors.push_back(std::move(e));
      continue;
    }
    // Both versions would be members of the same group and fight over its
    // partitions: the old one leaves before the new one joins.
    if (running != nullptr) StopAndRemove(name);
    ApplyKnownHorizon(prepared->get());
    (*prepared)->Launch();
    absl::MutexLock lock(&mu_);
    Entry& entry = pipelines_[name];
    entry = Entry{};
    entry.pipeline = std::move(*prepared);
    entry.flag = flag;
  }
  return errors;
}

void PipelineManager::ExtendScheduleHorizon(const v1::ScheduleHorizon& horizon) {
  if (horizon.flags_size() == 0 || !horizon.has_known_until()) return;
  KnownHorizon known;
  known.known_until = ToAbslTime(horizon.known_until());
  if (horizon.has_hold_limit() && ToAbslDuration(horizon.hold_limit()) >= absl::ZeroDuration()) {
    known.hold_limit = ToAbslDuration(horizon.hold_limit());
  }
  if (horizon.has_lead() && ToAbslDuration(horizon.lead()) > absl::ZeroDuration()) {
    known.lead = ToAbslDuration(horizon.lead());
  }
  absl::MutexLock lock(&mu_);
  for (const v1::FlagVersion& f : horizon.flags()) {
    known.version = f.version();
    // Kept for the pipelines started later (a new version, a restart): they
    // would otherwise hold every item until the horizon next moves.
    KnownHorizon& kept = horizons_[f.name()];
    if (known.known_until > kept.known_until) kept = known;
  }
  for (auto& [name, e] : pipelines_) ApplyKnownHorizonLocked(e.pipeline.get());
}

void PipelineManager::ApplyKnownHorizon(Pipeline* pipeline) {
  absl::MutexLock lock(&mu_);
  ApplyKnownHorizonLocked(pipeline);
}

void PipelineManager::ApplyKnownHorizonLocked(Pipeline* pipeline) {
  const v1::PipelineConfig& config = pipeline->config();
  if (!config.has_rollout()) return;
  auto it = horizons_.find(config.rollout().flag());
  if (it == horizons_.end()) return;
  const KnownHorizon& h = it->second;
  pipeline->ExtendScheduleHorizon(h.version, h.known_until, h.hold_limit, h.lead);
}

void PipelineManager::RestartExited() {
  const absl::Time now = clock_->Now();
  std::vector<std::string> due;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [name, e] : pipelines_) {
      std::optional<absl::Status> exited = e.pipeline->Exited();
      if (!exited) continue;
      if (!e.restart_at) {
        const absl::Duration delay =
            DoublingDelay(options_.restart_initial, options_.restart_max, e.restarts);
        e.restart_at = now + delay;
        e.problem = absl::StrCat("stopped (", exited->message(), "); restarting in ",
                                 absl::FormatDuration(delay));
        LOG(WARNING) << "pipeline " << name << " " << e.problem;
      } else if (now >= *e.restart_at) {
        due.push_back(name);
      }
    }
  }
  for (const std::string& name : due) {
    v1::PipelineConfig config;
    uint64_t version = 0;
    std::shared_ptr<const flags::FlagSchedule> flag;
    int restarts = 0;
    std::string last_exit;
    {
      absl::MutexLock lock(&mu_);
      const Entry& e = pipelines_.at(name);
      config = e.pipeline->config();
      version = e.pipeline->version();
      flag = e.flag;
      restarts = e.restarts + 1;
      last_exit = std::string(e.pipeline->Exited().value_or(absl::OkStatus()).message());
    }
    // The ended loop has left the group already: prepare its successor first, so
    // a failure keeps the entry (and its reason) in place for the next attempt.
    absl::StatusOr<std::unique_ptr<Pipeline>> again = factory_(config, version, flag);
    if (!again.ok()) {
      LOG(ERROR) << "restarting pipeline " << name << " failed: " << again.status().message();
      const absl::Duration delay =
          DoublingDelay(options_.restart_initial, options_.restart_max, restarts);
      absl::MutexLock lock(&mu_);
      Entry& e = pipelines_.at(name);
      e.restarts = restarts;
      e.restart_at = clock_->Now() + delay;
      e.problem = absl::StrCat("stopped (", last_exit, "); restart failed (",
                               again.status().message(), "); next attempt in ",
                               absl::FormatDuration(delay));
      continue;
    }
    StopAndRemove(name);  // joins the ended thread, keeps its last stats
    LOG(INFO) << "restarting pipeline " << name << " v" << version << " (restart " << restarts
              << ")";
    ApplyKnownHorizon(again->get());
    (*again)->Launch();
    Entry entry;
    entry.pipeline = std::move(*again);
    entry.flag = flag;
    entry.restarts = restarts;
    absl::MutexLock lock(&mu_);
    pipelines_[name] = std::move(entry);
  }
}

std::vector<v1::PipelineStats> PipelineManager::TakeStats() {
  if (apply_mu_.TryLock()) {
    RestartExited();
    apply_mu_.Unlock();
  }
  absl::MutexLock lock(&mu_);
  std::vector<v1::PipelineStats> out = std::move(leftover_stats_);
  leftover_stats_.clear();
  for (auto& [name, e] : pipelines_) {
    v1::PipelineStats s = e.pipeline->TakeStats();
    s.set_problem(ProblemOf(e));
    out.push_back(std::move(s));
  }
  return out;
}

std::string PipelineManager::ProblemOf(const Entry& e) const {
  if (!e.problem.empty()) return e.problem;
  absl::Status ready = e.pipeline->Ready();
  // Holding no partition is normal when a group has more members than partitions.
  if (ready.ok() || absl::EndsWith(ready.message(), "no Kafka partitions assigned")) return "";
  return std::string(ready.message());
}

void PipelineManager::StopAll() {
  absl::MutexLock apply(&apply_mu_);
  std::vector<std::string> names;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, e] : pipelines_) names.push_back(name);
  }
  for (const std::string& name : names) StopAndRemove(name);
}

absl::Status PipelineManager::Ready() const {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, e] : pipelines_) {
    if (!e.problem.empty()) return absl::UnavailableError(absl::StrCat(name, ": ", e.problem));
    absl::Status s = e.pipeline->Ready();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::vector<std::string> PipelineManager::RunningPipelines() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, e] : pipelines_) out.push_back(name);
  return out;
}

}  // namespace sluice::worker
