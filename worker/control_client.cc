#include "worker/control_client.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/backoff.h"
#include "common/controller_addresses.h"
#include "common/grpc_limits.h"
#include "common/grpc_status.h"
#include "glog/logging.h"
#include "sluice/v1/control.grpc.pb.h"

namespace sluice::worker {
namespace {

// 64 random bits, never 0 (0 means "no incarnation" to the controller).
uint64_t RandomIncarnation() {
  std::random_device device;
  uint64_t value = 0;
  while (value == 0) value = (static_cast<uint64_t>(device()) << 32) ^ device();
  return value;
}

}  // namespace

using google::protobuf::util::TimeUtil;

ControlClient::ControlClient(ControlClientConfig config, AssignmentHandler* handler)
    : config_(std::move(config)),
      handler_(handler),
      stats_interval_(config_.default_stats_interval),
      next_stats_collection_(absl::Now() + config_.default_stats_interval),
      // A restarted or duplicate process has its own incarnation, so its
      // sequences never collide with another's.
      // Sequences still start from the clock, so a controller that de-duplicates
      // on the worker id alone (before incarnations) keeps counting a restarted
      // worker's reports.
      outbox_(config_.incarnation != 0 ? config_.incarnation : RandomIncarnation(),
              static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())) * 1000) {}

std::vector<v1::PipelineStats> ControlClient::pending_stats() const {
  absl::MutexLock lock(&mu_);
  return outbox_.pending();
}

std::string ControlClient::last_applied_config_version() const {
  absl::MutexLock lock(&mu_);
  return last_applied_;
}

namespace {

// Stream endings that a retry cannot change: the peer is no Sluice controller, or
// it refuses this worker.
bool IsPermanent(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnimplemented:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::Status ControlClient::Run(const std::atomic<bool>& stop) {
  absl::StatusOr<ControllerAddresses> addresses =
      ControllerAddresses::Parse(config_.controller.address);
  if (!addresses.ok()) return addresses.status();
  ExponentialBackoff backoff(config_.backoff_initial, config_.backoff_max);
  while (!stop) {
    const absl::Time started = absl::Now();
    const std::string address = addresses->current();
    std::optional<std::string> refused_by_follower;
    const absl::Status ended = RunStream(stop, address, &refused_by_follower);
    if (stop) break;
    if (IsPermanent(ended)) {
      return absl::Status(ended.code(), absl::StrCat("controller ", address,
                                                     " refused this worker: ", ended.message()));
    }
    // The next try goes to the leader a follower named, else to the next replica
    // (the one that just ended may be gone: a leader killed, a host down).
    const std::string leader = FollowableLeader(config_.controller, refused_by_follower);
    addresses->Failover(leader);
    // A stream that lived a while was healthy, and a follower that named a leader
    // this worker can reach, or nobody (an election takes seconds), is a live
    // replica: start the backoff over. A leader it may not call (a token in clear
    // text beyond loopback) is retried with backoff, not polled.
    if (absl::Now() - started > absl::Seconds(10) ||
        (refused_by_follower && (!leader.empty() || refused_by_follower->empty()))) {
      backoff.Reset();
    }
    const absl::Duration delay = backoff.NextDelay();
    if (refused_by_follower) {
      LOG(INFO) << "controller " << address << " follows (" << ended.message() << "); trying "
                << addresses->current() << " in " << absl::FormatDuration(delay);
    } else {
      LOG(WARNING) << "controller " << address << " unreachable; retrying"
                   << (addresses->current() == address
                           ? ""
                           : absl::StrCat(" with ", addresses->current()))
                   << " in " << absl::FormatDuration(delay) << " (pipelines keep running)";
    }
    const absl::Time until = absl::Now() + delay;
    while (!stop && absl::Now() < until) {
      CollectStatsIfDue();
      absl::SleepFor(std::min(absl::Milliseconds(50), stats_interval()));
    }
  }
  return absl::OkStatus();
}

absl::Duration ControlClient::stats_interval() const {
  absl::MutexLock lock(&mu_);
  return stats_interval_;
}

void ControlClient::CollectStatsIfDue() {
  {
    absl::MutexLock lock(&mu_);
    if (absl::Now() < next_stats_collection_) return;
    next_stats_collection_ = absl::Now() + stats_interval_;
  }
  // Outside mu_: the handler takes its own locks. Only this thread or the stream's
  // side thread (never both at once) collects.
  std::vector<v1::PipelineStats> deltas = handler_->TakeStats();
  absl::MutexLock lock(&mu_);
  outbox_.Add(std::move(deltas));
}

template <typename Write>
bool ControlClient::SendStats(const Write& write) {
  bool resend;
  v1::WorkerMessage msg;
  {
    absl::MutexLock lock(&mu_);
    resend = outbox_.has_in_flight();
    *msg.mutable_stats() = outbox_.Next(absl::Now());
  }
  if (!write(msg)) return false;
  {
    absl::MutexLock lock(&mu_);
    outbox_.Sent();
  }
  // After a resend, what piled up meanwhile goes out at once.
  return resend ? SendStats(write) : true;
}

v1::WorkerMessage ControlClient::ApplyAndAnswer(const v1::Assignment& a) {
  std::vector<v1::PipelineError> errors = handler_->Apply(a);
  v1::WorkerMessage answer;
  if (errors.empty()) {
    answer.mutable_ack()->set_config_version(a.config_version());
    answer.mutable_ack()->set_nonce(a.nonce());
    nacked_.reset();
    absl::MutexLock lock(&mu_);
    last_applied_ = a.config_version();
    return answer;
  }
  v1::Nack* nack = answer.mutable_nack();
  nack->set_config_version(a.config_version());
  nack->set_nonce(a.nonce());
  std::vector<std::string> parts;
  for (v1::PipelineError& e : errors) {
    parts.push_back(e.error_detail());
    *nack->add_pipeline_errors() = std::move(e);
  }
  nack->set_error_detail(absl::StrJoin(parts, "; "));
  // last_applied_ stays: it is retried every nack_retry_interval, and after a
  // reconnect the controller sends this version again.
  nacked_ = a;
  return answer;
}

absl::Status ControlClient::RunStream(const std::atomic<bool>& stop, const std::string& address,
                                      std::optional<std::string>* refused_by_follower) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      OpenControllerChannelTo(config_.controller, address);
  // A TLS file that cannot be read is no reason to retry.
  if (!channel.ok()) return absl::InvalidArgumentError(channel.status().message());
  std::unique_ptr<v1::WorkerControl::Stub> stub = v1::WorkerControl::NewStub(*channel);
  grpc::ClientContext ctx;
  AddControllerToken(config_.controller, &ctx);
  std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::ControllerMessage>> stream =
      stub->Connect(&ctx);
  absl::Mutex write_mu;
  auto write = [&](const v1::WorkerMessage& m) {
    absl::MutexLock lock(&write_mu);
    return stream->Write(m);
  };

  v1::WorkerMessage hello;
  *hello.mutable_hello() = config_.hello;
  hello.mutable_hello()->set_last_applied_config_version(last_applied_config_version());
  if (!write(hello)) {
    const grpc::Status refused = stream->Finish();
    *refused_by_follower = FollowerRefusalLeader(ctx);
    return FromGrpcStatus(refused);
  }
  // The controller sends its initial metadata once it has taken the Hello.
  stream->WaitForInitialMetadata();
  if (ctx.GetServerInitialMetadata().count("x-sluice-controller") > 0) {
    connected_ = true;
    LOG(INFO) << "connected to controller " << address;
  }

  // Side threads: stats every interval, and cancelling the stream on stop.
  std::atomic<bool> done{false};
  std::thread side([&] {
    absl::Time next_retry = absl::Now() + config_.nack_retry_interval;
    while (!done) {
      if (stop) {
        ctx.TryCancel();
        break;
      }
      if (absl::Now() >= next_retry && connected_) {
        next_retry = absl::Now() + config_.nack_retry_interval;
        absl::MutexLock lock(&apply_mu_);
        if (nacked_) {
          const v1::Assignment retry = *nacked_;
          LOG(INFO) << "retrying NACKed assignment " << retry.config_version();
          if (!write(ApplyAndAnswer(retry))) break;
        }
      }
      bool due;
      {
        absl::MutexLock lock(&mu_);
        due = absl::Now() >= next_stats_collection_;
      }
      if (due) {
        CollectStatsIfDue();
        if (connected_ && !SendStats(write)) break;
      }
      absl::SleepFor(std::min(absl::Milliseconds(50), stats_interval()));
    }
  });

  v1::ControllerMessage msg;
  while (stream->Read(&msg)) {
    if (msg.has_horizon()) {
      // Applied in stream order, after the assignments before it: the handler
      // checks the flag versions it lists against the schedules it holds.
      handler_->ExtendScheduleHorizon(msg.horizon());
      continue;
    }
    if (!msg.has_assignment()) continue;
    const v1::Assignment& a = msg.assignment();
    LOG(INFO) << "assignment " << a.config_version() << " (nonce " << a.nonce() << "): "
              << a.pipelines_size() << " pipelines" << (a.draining() ? ", draining" : "");
    if (a.has_stats_interval()) {
      absl::MutexLock lock(&mu_);
      const int64_t ms = TimeUtil::DurationToMilliseconds(a.stats_interval());
      if (ms > 0) {
        stats_interval_ = absl::Milliseconds(ms);
        // The next report is due within the interval the controller counts its
        // silence limit in, not the default one the wait began with: a new
        // worker's first report came after 5 s, and a controller with a 1 s
        // interval ended its stream for silence after 3 s.
        next_stats_collection_ = std::min(next_stats_collection_, absl::Now() + stats_interval_);
      }
    }
    v1::WorkerMessage answer;
    {
      absl::MutexLock lock(&apply_mu_);
      answer = ApplyAndAnswer(a);
    }
    if (!write(answer)) break;
  }
  connected_ = false;
  done = true;
  side.join();
  grpc::Status status = stream->Finish();
  *refused_by_follower = FollowerRefusalLeader(ctx);
  if (!status.ok() && !stop && !*refused_by_follower) {
    LOG(WARNING) << "controller stream ended: " << status.error_message();
  }
  return FromGrpcStatus(status);
}

}  // namespace sluice::worker
