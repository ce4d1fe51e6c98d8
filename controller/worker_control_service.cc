#include "controller/worker_control_service.h"

#include <algorithm>

#include "glog/logging.h"

namespace sluice::controller {

WorkerControlService::WorkerControlService(Fleet* fleet, StatsAggregator* stats,
                                           WorkerRegistry* registry, const CallAuthorizer& auth,
                                           const Leadership& leadership, const Clock& clock,
                                           absl::Duration hello_timeout)
    : fleet_(fleet),
      leadership_(leadership),
      registry_writer_(registry == nullptr ? std::nullopt
                                           : std::make_optional<WorkerRegistryWriter>(
                                                 fleet, registry, clock, &leadership)),
      context_{fleet,
               stats,
               registry_writer_ ? &*registry_writer_ : nullptr,
               &auth,
               &clock,
               hello_timeout,
               &next_nonce_,
               [this](const std::string& worker_id, WorkerStream* stream) {
                 absl::MutexLock lock(&mu_);
                 by_worker_.emplace(worker_id, stream);
               },
               &leadership,
               &pushes_held_back_},
      pusher_([this] { Run(); }) {}

WorkerControlService::~WorkerControlService() {
  shutting_down_ = true;
  fleet_->Notify();
  pusher_.join();
}

grpc::ServerBidiReactor<v1::WorkerMessage, v1::ControllerMessage>* WorkerControlService::Connect(
    grpc::CallbackServerContext* call) {
  auto stream = std::make_shared<WorkerStream>(
      call, context_, [this](WorkerStream* done, const std::string& worker_id) {
        absl::MutexLock lock(&mu_);
        // Only that worker's entries: a scan of every stream per disconnect would
        // cost N² when a fleet of thousands drops at once.
        for (auto [it, end] = by_worker_.equal_range(worker_id); it != end;) {
          it = it->second == done ? by_worker_.erase(it) : std::next(it);
        }
        streams_.erase(done);
      });
  WorkerStream* reactor = stream.get();
  absl::MutexLock lock(&mu_);
  // Under mu_, as Shutdown() sets it: a stream is either ended here or in the
  // set Shutdown() ends.
  if (shutting_down_) {
    reactor->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the controller is shutting down"));
  } else if (!leadership_.IsLeader()) {
    // Before any Hello: a follower makes no assignment. (A stream opened just
    // before a step-down is ended by EndStreamsOnStepDown().)
    reactor->EndAsFollower(leadership_);
  }
  streams_.emplace(reactor, std::move(stream));
  return reactor;
}

std::vector<std::shared_ptr<WorkerStream>> WorkerControlService::Streams() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<WorkerStream>> out;
  out.reserve(streams_.size());
  for (const auto& [reactor, stream] : streams_) out.push_back(stream);
  return out;
}

std::vector<std::shared_ptr<WorkerStream>> WorkerControlService::StreamsOf(
    const std::set<std::string>& workers) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<WorkerStream>> out;
  for (const std::string& id : workers) {
    for (auto [it, end] = by_worker_.equal_range(id); it != end; ++it) {
      out.push_back(streams_.at(it->second));
    }
  }
  return out;
}

size_t WorkerControlService::stream_count() const {
  absl::MutexLock lock(&mu_);
  return streams_.size();
}

void WorkerControlService::CheckStreams() {
  for (const std::shared_ptr<WorkerStream>& s : Streams()) s->Check();
}

void WorkerControlService::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    shutting_down_ = true;
  }
  for (const std::shared_ptr<WorkerStream>& s : Streams()) {
    s->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the controller is shutting down"));
  }
  fleet_->Notify();
}

void WorkerControlService::EndStreamsOnStepDown() {
  for (const std::shared_ptr<WorkerStream>& s : Streams()) s->EndAsFollower(leadership_);
}

void WorkerControlService::Run() {
  // Also bounded by the Hello timeout, so a late Hello is noticed within half of it.
  const absl::Duration recheck =
      std::min(fleet_->stream_recheck_interval(),
               std::max(context_.hello_timeout / 2, absl::Milliseconds(50)));
  uint64_t seen = fleet_->generation();
  absl::Time next_check = absl::Now() + recheck;
  while (!shutting_down_) {
    // While a stream holds a push back, look again soon (the leadership may be
    // confirmed again within moments).
    const absl::Duration wait = std::max(next_check - absl::Now(), absl::ZeroDuration());
    const uint64_t now_at = fleet_->WaitForChange(
        seen, pushes_held_back_ ? std::min(wait, absl::Milliseconds(100)) : wait);
    if (shutting_down_) break;
    // Not leading, or not confirmed lately: the changes wait (streams push
    // nothing meanwhile), and every stream catches up when it leads again.
    if (!leadership_.IsLeader()) {
      pushes_held_back_ = true;
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    if (pushes_held_back_.exchange(false)) {
      for (const std::shared_ptr<WorkerStream>& s : Streams()) s->Push();
    }
    if (now_at != seen) {
      seen = now_at;
      // Each stream sends only what differs from what its worker holds.
      const FleetChanges changes = fleet_->TakeChanges();
      // Superseded streams end first (they would push nothing anyway).
      for (const std::shared_ptr<WorkerStream>& s : StreamsOf(changes.reconnected)) s->Check();
      for (const std::shared_ptr<WorkerStream>& s :
           changes.horizon_moved ? Streams() : StreamsOf(changes.workers)) {
        s->Push();
      }
      if (!changes.workers.empty()) {
        LOG(INFO) << "the assignments of " << changes.workers.size()
                  << " workers changed; pushing to those connected (-v=1 logs each push)";
      }
      if (changes.notified) next_check = absl::Now();
    }
    // Real time: this paces the checks; the checks themselves read the clock.
    if (absl::Now() >= next_check) {
      CheckStreams();
      next_check = absl::Now() + recheck;
    }
  }
}

}  // namespace sluice::controller
