#include "tools/fleetsim/simulated_worker.h"

#include <google/protobuf/util/time_util.h>

#include <random>

#include "absl/time/clock.h"

namespace sluice::fleetsim {

SimulatedWorker::SimulatedWorker(SimulatedWorkerConfig config, SimulatedWorkerDeps deps)
    : config_(std::move(config)),
      deps_(deps),
      stats_interval_(config_.default_stats_interval),
      stats_builder_(config_.stats, config_.index, config_.seed) {}

void SimulatedWorker::Start(const std::shared_ptr<grpc::Channel>& channel) {
  {
    absl::MutexLock lock(&mu_);
    started_ = absl::Now();
  }
  stub_ = v1::WorkerControl::NewStub(channel);
  AddControllerToken(*deps_.connection, &context_);
  stub_->async()->Connect(&context_, this);
  // Stats are written from the timer thread, outside any reaction: the hold keeps
  // gRPC from finishing the call under them (released in CloseLocked).
  AddHold();
  StartRead(&incoming_);
  Outgoing hello;
  *hello.message.mutable_hello() = config_.hello;
  Send(std::move(hello));
  StartCall();
}

void SimulatedWorker::Cancel() { context_.TryCancel(); }

void SimulatedWorker::OnReadInitialMetadataDone(bool ok) {
  // The controller sends its initial metadata once it has taken the Hello.
  if (ok && context_.GetServerInitialMetadata().count("x-sluice-controller") > 0) {
    deps_.events->OnStreamAccepted(config_.index);
  }
}

void SimulatedWorker::OnReadDone(bool ok) {
  if (!ok) {
    bool release = false;
    {
      absl::MutexLock lock(&mu_);
      CloseLocked(&release);
    }
    if (release) RemoveHold();
    return;
  }
  if (incoming_.has_assignment()) Answer(incoming_.assignment(), absl::Now());
  StartRead(&incoming_);
}

void SimulatedWorker::Answer(const v1::Assignment& assignment, absl::Time received) {
  Outgoing ack;
  ack.message.mutable_ack()->set_config_version(assignment.config_version());
  ack.message.mutable_ack()->set_nonce(assignment.nonce());
  bool schedule_stats = false;
  absl::Duration first_stats_in;
  {
    absl::MutexLock lock(&mu_);
    if (!first_assignment_) first_assignment_ = received;
    ack.first_ack = !acked_once_;
    acked_once_ = true;
    assignment_ = std::make_shared<const v1::Assignment>(assignment);
    const int64_t ms =
        google::protobuf::util::TimeUtil::DurationToMilliseconds(assignment.stats_interval());
    if (ms > 0) stats_interval_ = absl::Milliseconds(ms);
    // A flag version counts once, when it first arrives: a later push for another
    // reason (a pipeline update) carries it again.
    for (const v1::Flag& f : assignment.flags()) {
      std::vector<FlagSighting>& seen = sightings_[f.name()];
      if (!seen.empty() && seen.back().version >= f.version()) continue;
      seen.push_back(FlagSighting{f.version(), received});
      ack.flags.emplace_back(f.name(), f.version());
    }
    if (!stats_scheduled_) {
      stats_scheduled_ = true;
      schedule_stats = true;
      // Spread over one interval, so streams opened together do not report together.
      std::mt19937_64 rng(config_.seed ^ 0x9e3779b97f4a7c15ULL);
      first_stats_in = stats_interval_ * std::uniform_real_distribution<double>(0, 1)(rng);
    }
  }
  Send(std::move(ack));
  if (schedule_stats) {
    deps_.timers->RunAt(absl::Now() + first_stats_in, [this] { StatsTick(); });
  }
}

void SimulatedWorker::StatsTick() {
  Outgoing out;
  out.stats = true;
  absl::Duration interval;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    interval = stats_interval_;
    *out.message.mutable_stats() = stats_builder_.Next(*assignment_, interval, absl::Now());
  }
  Send(std::move(out));
  deps_.timers->RunAt(absl::Now() + interval, [this] { StatsTick(); });
}

void SimulatedWorker::Send(Outgoing out) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    if (writing_) {
      queue_.push_back(std::move(out));
      return;
    }
    writing_ = true;
    current_ = std::move(out);
  }
  // Outside mu_: gRPC may run OnWriteDone inline on this thread.
  StartWrite(&current_.message);
}

void SimulatedWorker::OnWriteDone(bool ok) {
  const absl::Time now = absl::Now();
  std::vector<std::pair<std::string, uint64_t>> acked_flags;
  bool first_ack = false;
  bool write_next = false;
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    if (ok) {
      for (const auto& [flag, version] : current_.flags) {
        for (FlagSighting& s : sightings_[flag]) {
          if (s.version == version) s.ack_written = now;
        }
      }
      acked_flags = std::move(current_.flags);
      if (current_.first_ack) {
        first_ack = true;
        first_ack_ = now;
      }
      if (current_.stats) ++stats_sent_;
    } else {
      CloseLocked(&release);
    }
    if (closed_ || queue_.empty()) {
      writing_ = false;
      if (closed_ && !hold_released_) {
        hold_released_ = true;
        release = true;
      }
    } else {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      write_next = true;
    }
  }
  if (first_ack) deps_.events->OnFirstAck(config_.index);
  for (const auto& [flag, version] : acked_flags) deps_.events->OnFlagAcked(flag, version);
  if (write_next) StartWrite(&current_.message);
  if (release) RemoveHold();
}

void SimulatedWorker::CloseLocked(bool* release_hold) {
  closed_ = true;
  queue_.clear();
  if (!writing_ && !hold_released_) {
    hold_released_ = true;
    *release_hold = true;
  }
}

void SimulatedWorker::OnDone(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  // Last: the fleet may destroy this worker once every stream has ended.
  deps_.events->OnStreamEnded(config_.index, status);
}

std::optional<FlagSighting> SimulatedWorker::FirstSighting(const std::string& flag,
                                                           uint64_t min_version) const {
  absl::MutexLock lock(&mu_);
  auto it = sightings_.find(flag);
  if (it == sightings_.end()) return std::nullopt;
  for (const FlagSighting& s : it->second) {
    if (s.version >= min_version) return s;
  }
  return std::nullopt;
}

bool SimulatedWorker::CarriesFlag(const std::string& flag) const {
  absl::MutexLock lock(&mu_);
  if (!assignment_) return false;
  for (const v1::Flag& f : assignment_->flags()) {
    if (f.name() == flag) return true;
  }
  return false;
}

std::optional<absl::Duration> SimulatedWorker::FirstAssignmentAfter() const {
  absl::MutexLock lock(&mu_);
  if (!first_assignment_) return std::nullopt;
  return *first_assignment_ - started_;
}

std::optional<absl::Duration> SimulatedWorker::FirstAckAfter() const {
  absl::MutexLock lock(&mu_);
  if (!first_ack_) return std::nullopt;
  return *first_ack_ - started_;
}

uint64_t SimulatedWorker::stats_reports_sent() const {
  absl::MutexLock lock(&mu_);
  return stats_sent_;
}

}  // namespace sluice::fleetsim
