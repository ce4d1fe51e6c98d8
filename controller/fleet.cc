#include "controller/fleet.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/proto_time.h"
#include "controller/assigner.h"

namespace sluice::controller {

using google::protobuf::util::TimeUtil;

Fleet::Fleet(const Clock& clock, FleetConfig config, ControllerMetrics* metrics)
    : clock_(clock), config_(config), metrics_(metrics) {}

void Fleet::BumpLocked() {
  ++generation_;
  changed_.SignalAll();
}

WorkerCandidate Fleet::CandidateLocked(const std::string& worker_id, const Worker& w) const {
  WorkerCandidate c{worker_id, w.draining, {}};
  for (int form : w.hello.routing_key_forms()) {
    c.routing_key_forms.push_back(static_cast<v1::RoutingKeyForm>(form));
  }
  return c;
}

void Fleet::RecomputeLocked() {
  std::vector<v1::Pipeline> pipelines;
  for (const auto& [name, p] : pipelines_) pipelines.push_back(p);
  std::vector<WorkerCandidate> candidates;
  for (const auto& [id, w] : workers_) candidates.push_back(CandidateLocked(id, w));
  picks_ = PickWorkers(pipelines, candidates);
  assignments_.clear();
  for (const auto& [id, w] : workers_) assignments_[id];
  // By pipeline name, so each worker's names are sorted.
  for (const auto& [name, picked] : picks_) {
    for (const auto& [rank, worker_id] : picked) assignments_[worker_id].push_back(name);
  }
  for (auto& [id, w] : workers_) {
    const std::vector<std::string>& names = assignments_[id];
    w.assigned_during_lease.insert(names.begin(), names.end());
    RefreshDesiredLocked(id, w);
  }
  gauges_stale_ = true;
  BumpLocked();
}

void Fleet::AddCandidateLocked(const std::string& worker_id) {
  Worker& w = workers_.at(worker_id);
  std::vector<std::string>& mine = assignments_[worker_id];
  std::set<std::string> touched = {worker_id};
  for (const auto& [name, displaced] :
       AddWorker(pipelines_, CandidateLocked(worker_id, w), &picks_)) {
    mine.insert(std::lower_bound(mine.begin(), mine.end(), name), name);
    w.assigned_during_lease.insert(name);
    if (displaced.empty()) continue;
    std::vector<std::string>& theirs = assignments_[displaced];
    theirs.erase(std::remove(theirs.begin(), theirs.end(), name), theirs.end());
    touched.insert(displaced);
  }
  for (const std::string& id : touched) RefreshDesiredLocked(id, workers_.at(id));
  gauges_stale_ = true;
  BumpLocked();
}

void Fleet::AssignedLocked(const std::string& worker_id,
                           std::vector<const v1::Pipeline*>* pipelines,
                           std::vector<const v1::Flag*>* flags) const {
  auto it = assignments_.find(worker_id);
  if (it == assignments_.end()) return;
  std::map<std::string, const v1::Flag*> by_name;
  for (const std::string& name : it->second) {
    const v1::Pipeline& p = pipelines_.at(name);
    pipelines->push_back(&p);
    if (p.config().has_rollout()) {
      auto f = flags_.find(p.config().rollout().flag());
      if (f != flags_.end()) by_name[f->first] = &f->second;
    }
  }
  for (const auto& [name, f] : by_name) flags->push_back(f);
}

void Fleet::RefreshDesiredLocked(const std::string& worker_id, Worker& w) {
  std::vector<const v1::Pipeline*> pipelines;
  std::vector<const v1::Flag*> flags;
  AssignedLocked(worker_id, &pipelines, &flags);
  std::string version = AssignmentVersion(pipelines, flags, w.draining);
  if (version == w.desired_version) return;
  w.desired_version = std::move(version);
  ++w.assignment_seq;
  changes_.workers.insert(worker_id);
}

uint64_t Fleet::AssignmentSeq(const std::string& worker_id) const {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  return it == workers_.end() ? 0 : it->second.assignment_seq;
}

FleetChanges Fleet::TakeChanges() {
  absl::MutexLock lock(&mu_);
  FleetChanges out = std::move(changes_);
  changes_ = FleetChanges();
  return out;
}

void Fleet::PublishGauges() {
  absl::MutexLock lock(&mu_);
  if (metrics_ == nullptr || !gauges_stale_) return;
  gauges_stale_ = false;
  std::map<std::string, int> by_version;
  int pending = 0;
  for (const auto& [id, w] : workers_) {
    if (w.connected) ++by_version[w.hello.build_version()];
    if (!w.pending_config_version.empty()) ++pending;
  }
  metrics_->SetWorkersConnected(by_version);
  metrics_->SetPushesPending(pending);
}

bool Fleet::ApplyState(StateSnapshot snapshot) {
  absl::MutexLock lock(&mu_);
  if (snapshot.revision < applied_revision_) return false;
  applied_revision_ = snapshot.revision;
  pipelines_.clear();
  for (v1::Pipeline& p : snapshot.pipelines) pipelines_[p.config().name()] = std::move(p);
  flags_.clear();
  for (v1::Flag& f : snapshot.flags) flags_[f.name()] = std::move(f);
  RecomputeLocked();  // bumps the generation: every stream looks again
  return true;
}

uint64_t Fleet::applied_revision() const {
  absl::MutexLock lock(&mu_);
  return applied_revision_;
}

void Fleet::SetPipelines(std::vector<v1::Pipeline> pipelines) {
  absl::MutexLock lock(&mu_);
  pipelines_.clear();
  for (v1::Pipeline& p : pipelines) pipelines_[p.config().name()] = std::move(p);
  RecomputeLocked();
}

void Fleet::SetFlags(std::vector<v1::Flag> flags) {
  absl::MutexLock lock(&mu_);
  flags_.clear();
  for (v1::Flag& f : flags) flags_[f.name()] = std::move(f);
  RecomputeLocked();  // the flags' versions are part of the assignments
}

v1::FlagSnapshot Fleet::FlagSnapshot() const {
  absl::MutexLock lock(&mu_);
  v1::FlagSnapshot out;
  uint64_t revision = 0;
  for (const auto& [name, f] : flags_) {
    *out.add_flags() = f;
    revision += f.version();
  }
  out.set_revision(revision);
  // The horizon holds for every state from the one it was computed for on: a
  // later write's changes take effect after it (ScheduleHorizonKeeper).
  if (known_until_ != absl::InfinitePast()) {
    *out.mutable_schedule_known_until() = ToProtoTimestamp(known_until_);
  }
  return out;
}

bool Fleet::AdvanceScheduleHorizon(absl::Time known_until, uint64_t revision) {
  absl::MutexLock lock(&mu_);
  if (applied_revision_ < revision || known_until <= known_until_) return false;
  known_until_ = known_until;
  horizon_flag_versions_.clear();
  for (const auto& [name, f] : flags_) horizon_flag_versions_[name] = f.version();
  // Changes no assignment: the horizon moves several times per lead, and
  // recomputing every worker's assignment each time (copying its pipelines and
  // flags) is what an idle fleet would spend on.
  changes_.horizon_moved = true;
  BumpLocked();
  return true;
}

std::optional<v1::ScheduleHorizon> Fleet::ScheduleHorizonFor(
    const v1::Assignment& assignment) const {
  absl::MutexLock lock(&mu_);
  if (known_until_ == absl::InfinitePast()) return std::nullopt;
  v1::ScheduleHorizon out;
  *out.mutable_known_until() = ToProtoTimestamp(known_until_);
  *out.mutable_hold_limit() = ToProtoDuration(config_.schedule_hold_limit);
  *out.mutable_lead() = ToProtoDuration(config_.flag_lead);
  for (const v1::Flag& f : assignment.flags()) {
    auto it = horizon_flag_versions_.find(f.name());
    // A flag created after the horizon's state: its next horizon covers it.
    if (it == horizon_flag_versions_.end()) continue;
    v1::FlagVersion* v = out.add_flags();
    v->set_name(f.name());
    v->set_version(it->second);
  }
  return out;
}

absl::Time Fleet::schedule_known_until() const {
  absl::MutexLock lock(&mu_);
  return known_until_;
}

std::set<std::string> Fleet::PipelinesUsingFlag(const std::string& flag) const {
  absl::MutexLock lock(&mu_);
  std::set<std::string> out;
  for (const auto& [name, p] : pipelines_) {
    if (p.config().has_rollout() && p.config().rollout().flag() == flag) out.insert(name);
  }
  return out;
}

absl::StatusOr<uint64_t> Fleet::Connect(const v1::Hello& hello, const std::string& owner) {
  absl::MutexLock lock(&mu_);
  auto existing = workers_.find(hello.worker_id());
  // Bound while the stream is live and through its lease: otherwise another
  // token could claim the id in a blip and lock its worker out.
  if (existing != workers_.end() && existing->second.owner != owner) {
    return absl::PermissionDeniedError(absl::StrCat(
        "worker id ", hello.worker_id(), " belongs to another token while its stream is "
        "live or its lease runs; a worker id cannot be taken over"));
  }
  const bool known = existing != workers_.end();
  // A worker known before (a reconnect, within its lease or after a controller
  // restart) with the same capabilities changes no assignment.
  const bool same_candidate =
      known && std::equal(existing->second.hello.routing_key_forms().begin(),
                          existing->second.hello.routing_key_forms().end(),
                          hello.routing_key_forms().begin(), hello.routing_key_forms().end());
  Worker& w = workers_[hello.worker_id()];
  w.owner = owner;
  w.hello = hello;
  w.stream_id = next_stream_id_++;
  w.connected = true;
  w.last_seen = clock_.Now();
  // What the worker says it runs is what it runs (e.g. after a controller restart).
  w.applied_config_version = hello.last_applied_config_version();
  w.pending_config_version.clear();
  // Its older stream, if any, ends on its next check: the pusher checks it now.
  if (known) changes_.reconnected.insert(hello.worker_id());
  if (!known) {
    AddCandidateLocked(hello.worker_id());
  } else if (!same_candidate) {
    RecomputeLocked();
  } else {
    gauges_stale_ = true;
    BumpLocked();
  }
  return w.stream_id;
}

void Fleet::Disconnect(const std::string& worker_id, uint64_t stream_id) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second.stream_id != stream_id) return;
  it->second.connected = false;
  it->second.disconnected_at = clock_.Now();
  it->second.pending_config_version.clear();
  gauges_stale_ = true;
  BumpLocked();
}

std::optional<absl::Duration> Fleet::SilentFor(const std::string& worker_id,
                                               uint64_t stream_id) const {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second.stream_id != stream_id) return std::nullopt;
  const absl::Duration silent = clock_.Now() - it->second.last_seen;
  if (silent <= config_.silence_limit) return std::nullopt;
  return silent;
}

bool Fleet::IsCurrent(const std::string& worker_id, uint64_t stream_id) const {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  return it != workers_.end() && it->second.stream_id == stream_id;
}

std::vector<std::string> Fleet::ExpireLeases() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  std::vector<std::string> expired;
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (!it->second.connected && now - it->second.disconnected_at >= config_.worker_lease) {
      expired.push_back(it->first);
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  if (!expired.empty()) RecomputeLocked();
  return expired;
}

void Fleet::RestoreWorkers(const std::vector<KnownWorker>& workers) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  // A replica that led before, followed, and leads again: what it remembers of
  // the workers it lost is stale (another leader drained or forgot them since),
  // so the registry replaces it.
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (!it->second.connected) {
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  for (const KnownWorker& k : workers) {
    const std::string& id = k.hello.worker_id();
    if (id.empty() || workers_.count(id) > 0) continue;  // connected: kept
    Worker& w = workers_[id];
    w.hello = k.hello;
    w.owner = k.owner;
    w.draining = k.draining;
    w.connected = false;
    w.disconnected_at = now;
    w.last_seen = now;
    w.applied_config_version = k.hello.last_applied_config_version();
  }
  RecomputeLocked();
}

std::optional<KnownWorker> Fleet::Known(const std::string& worker_id) const {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return std::nullopt;
  return KnownWorker{it->second.hello, it->second.owner, it->second.draining};
}

v1::Assignment Fleet::AssignmentFor(const std::string& worker_id) const {
  absl::MutexLock lock(&mu_);
  v1::Assignment a;
  auto w = workers_.find(worker_id);
  const bool draining = w != workers_.end() && w->second.draining;
  std::vector<const v1::Pipeline*> assigned;
  std::vector<const v1::Flag*> flags;
  AssignedLocked(worker_id, &assigned, &flags);
  for (const v1::Pipeline* p : assigned) {
    v1::AssignedPipeline* out = a.add_pipelines();
    *out->mutable_config() = p->config();
    out->set_version(p->version());
    out->set_paused(p->paused());
  }
  for (const v1::Flag* f : flags) *a.add_flags() = *f;
  a.set_config_version(AssignmentVersion(assigned, flags, draining));
  a.set_draining(draining);
  *a.mutable_stats_interval() =
      TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(config_.stats_interval));
  return a;
}

void Fleet::RecordPush(const std::string& worker_id, const v1::Assignment& assignment) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  w.pending_config_version = assignment.config_version();
  w.pending_nonce = assignment.nonce();
  w.pending_since = clock_.Now();
  w.pushed_versions.clear();
  for (const v1::AssignedPipeline& p : assignment.pipelines()) {
    w.pushed_versions[p.config().name()] = p.version();
  }
  w.pushed_flag_versions.clear();
  for (const v1::Flag& f : assignment.flags()) w.pushed_flag_versions[f.name()] = f.version();
  if (metrics_ != nullptr) metrics_->PushSent();
  gauges_stale_ = true;
}

void Fleet::RecordInSync(const std::string& worker_id, const v1::Assignment& assignment) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  it->second.applied_versions.clear();
  for (const v1::AssignedPipeline& p : assignment.pipelines()) {
    it->second.applied_versions[p.config().name()] = p.version();
  }
  it->second.pushed_versions = it->second.applied_versions;
  it->second.applied_flag_versions.clear();
  for (const v1::Flag& f : assignment.flags()) {
    it->second.applied_flag_versions[f.name()] = f.version();
  }
  it->second.pushed_flag_versions = it->second.applied_flag_versions;
}

void Fleet::RecordAck(const std::string& worker_id, const v1::Ack& ack) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  w.last_seen = clock_.Now();
  if (ack.nonce() != w.pending_nonce) return;  // an answer to an older push
  if (metrics_ != nullptr) metrics_->AckReceived(clock_.Now() - w.pending_since);
  w.applied_config_version = ack.config_version();
  w.pending_config_version.clear();
  w.last_nack.clear();
  w.pipeline_errors.clear();
  w.applied_versions = w.pushed_versions;
  w.applied_flag_versions = w.pushed_flag_versions;
  // No bump: an answer changes no assignment, and waking every stream for each
  // of N answers made a flag change cost N² assignment computations.
  gauges_stale_ = true;
}

void Fleet::RecordNack(const std::string& worker_id, const v1::Nack& nack) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return;
  Worker& w = it->second;
  w.last_seen = clock_.Now();
  if (nack.nonce() != w.pending_nonce) return;
  if (metrics_ != nullptr) metrics_->NackReceived();
  w.pending_config_version.clear();
  w.last_nack = nack.error_detail();
  w.pipeline_errors.clear();
  for (const v1::PipelineError& e : nack.pipeline_errors()) {
    w.pipeline_errors[e.pipeline()] = e.error_detail();
  }
  // Pipelines not named in the NACK were applied at their pushed versions. A
  // refused one still runs its last good version, if it had one (the worker keeps
  // it), so that version stays shown. Pipelines no longer pushed are gone.
  std::map<std::string, uint64_t> applied;
  for (const auto& [name, version] : w.pushed_versions) {
    if (w.pipeline_errors.count(name) == 0) {
      applied[name] = version;
    } else if (auto last_good = w.applied_versions.find(name);
               last_good != w.applied_versions.end()) {
      applied[name] = last_good->second;
    }
  }
  w.applied_versions = std::move(applied);
  gauges_stale_ = true;  // no bump, as for an Ack
}

int Fleet::AcceptStats(const std::string& worker_id, v1::StatsReport* report) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  auto* pipelines = report->mutable_pipelines();
  const int before = pipelines->size();
  if (it == workers_.end()) {
    pipelines->Clear();
    return before;
  }
  Worker& w = it->second;
  w.last_seen = clock_.Now();
  pipelines->erase(std::remove_if(pipelines->begin(), pipelines->end(),
                                  [&](const v1::PipelineStats& p) {
                                    return w.assigned_during_lease.count(p.pipeline()) == 0;
                                  }),
                   pipelines->end());
  for (const v1::PipelineStats& p : *pipelines) {
    if (p.consumer_timeout_ms() > 0) w.pipeline_timeouts[p.pipeline()] = p.consumer_timeout_ms();
    if (p.problem().empty()) {
      w.pipeline_problems.erase(p.pipeline());
    } else {
      w.pipeline_problems[p.pipeline()] = p.problem();
    }
  }
  return before - pipelines->size();
}

absl::Status Fleet::Drain(const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
  }
  it->second.draining = true;
  RecomputeLocked();
  return absl::OkStatus();
}

v1::WorkerInfo Fleet::InfoLocked(const Worker& w) const {
  v1::WorkerInfo info;
  info.set_worker_id(w.hello.worker_id());
  info.set_build_version(w.hello.build_version());
  info.set_host(w.hello.host());
  info.set_pid(w.hello.pid());
  info.set_connected(w.connected);
  info.set_draining(w.draining);
  auto it = assignments_.find(w.hello.worker_id());
  if (it != assignments_.end()) {
    for (const std::string& p : it->second) info.add_pipelines(p);
  }
  info.set_applied_config_version(w.applied_config_version);
  info.set_pending_config_version(w.pending_config_version);
  info.set_last_nack(w.last_nack);
  *info.mutable_last_seen() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(w.last_seen));
  return info;
}

std::vector<v1::WorkerInfo> Fleet::ListWorkers() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::WorkerInfo> out;
  for (const auto& [id, w] : workers_) out.push_back(InfoLocked(w));
  return out;
}

absl::StatusOr<v1::WorkerInfo> Fleet::GetWorker(const std::string& worker_id) const {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " not found"));
  }
  return InfoLocked(it->second);
}

std::vector<v1::PipelineWorkerStatus> Fleet::PipelineStatus(const std::string& pipeline) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::PipelineWorkerStatus> out;
  for (const auto& [id, names] : assignments_) {
    if (std::find(names.begin(), names.end(), pipeline) == names.end()) continue;
    const Worker& w = workers_.at(id);
    v1::PipelineWorkerStatus s;
    s.set_worker_id(id);
    s.set_connected(w.connected);
    auto applied = w.applied_versions.find(pipeline);
    s.set_applied_version(applied == w.applied_versions.end() ? 0 : applied->second);
    auto error = w.pipeline_errors.find(pipeline);
    if (error != w.pipeline_errors.end()) s.set_nack_error(error->second);
    auto problem = w.pipeline_problems.find(pipeline);
    if (problem != w.pipeline_problems.end()) s.set_problem(problem->second);
    auto timeout = w.pipeline_timeouts.find(pipeline);
    if (timeout != w.pipeline_timeouts.end()) s.set_consumer_timeout_ms(timeout->second);
    out.push_back(std::move(s));
  }
  return out;
}

std::string Fleet::BuildVersion(const std::string& worker_id) const {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  return it == workers_.end() ? "" : it->second.hello.build_version();
}

uint64_t Fleet::WatchStarted(const std::string& id) {
  absl::MutexLock lock(&mu_);
  const uint64_t watch_id = next_watch_id_++;
  watchers_[watch_id].id = id;
  return watch_id;
}

void Fleet::WatchHolds(uint64_t watch_id, const v1::FlagSnapshot& snapshot) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(watch_id);
  if (it == watchers_.end()) return;
  it->second.flag_versions.clear();
  for (const v1::Flag& f : snapshot.flags()) it->second.flag_versions[f.name()] = f.version();
}

void Fleet::WatchEnded(uint64_t watch_id) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watch_id);
}

std::vector<v1::FlagHolder> Fleet::FlagHolders(const std::string& flag) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::FlagHolder> out;
  for (const auto& [id, names] : assignments_) {
    const bool uses = std::any_of(names.begin(), names.end(), [&](const std::string& n) {
      auto p = pipelines_.find(n);
      return p != pipelines_.end() && p->second.config().has_rollout() &&
             p->second.config().rollout().flag() == flag;
    });
    if (!uses) continue;
    const Worker& w = workers_.at(id);
    v1::FlagHolder h;
    h.set_kind(v1::FlagHolder::KIND_WORKER);
    h.set_id(id);
    h.set_connected(w.connected);
    auto held = w.applied_flag_versions.find(flag);
    h.set_version(held == w.applied_flag_versions.end() ? 0 : held->second);
    h.set_acknowledged(held != w.applied_flag_versions.end());
    out.push_back(std::move(h));
  }
  for (const auto& [watch_id, watcher] : watchers_) {
    v1::FlagHolder h;
    h.set_kind(v1::FlagHolder::KIND_WATCHER);
    h.set_id(watcher.id);
    h.set_connected(true);
    auto held = watcher.flag_versions.find(flag);
    h.set_version(held == watcher.flag_versions.end() ? 0 : held->second);
    out.push_back(std::move(h));
  }
  return out;
}

uint64_t Fleet::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

uint64_t Fleet::WaitForChange(uint64_t seen, absl::Duration timeout) const {
  // A condition variable, not Mutex::Await: with a condition per waiting stream,
  // every release of mu_ would evaluate all of them (1,000 streams: 1,000
  // evaluations per stats report).
  // Real time, as the Await it replaced: it bounds a thread's sleep, not a lease.
  absl::MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (generation_ == seen) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) break;
  }
  return generation_;
}

absl::Duration Fleet::stream_recheck_interval() const {
  return std::clamp(config_.silence_limit / 3, absl::Milliseconds(100), absl::Seconds(5));
}

void Fleet::Notify() {
  absl::MutexLock lock(&mu_);
  changes_.notified = true;
  BumpLocked();
}

}  // namespace sluice::controller
