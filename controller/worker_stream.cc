#include "controller/worker_stream.h"

#include "absl/strings/str_cat.h"
#include "common/admin_limits.h"
#include "common/grpc_status.h"
#include "glog/logging.h"

namespace sluice::controller {

WorkerStream::WorkerStream(grpc::CallbackServerContext* call, const WorkerStreamContext& context,
                           std::function<void(WorkerStream*, const std::string&)> on_done)
    : call_(call),
      context_(context),
      on_done_(std::move(on_done)),
      opened_at_(context.clock->Now()) {
  absl::StatusOr<Caller> caller = context_.auth->Authorize(*call_, Role::kWorker);
  if (!caller.ok()) {
    End(ToGrpcStatus(caller.status()));
    return;
  }
  owner_ = caller->owner;
  StartRead(&in_);
}

void WorkerStream::OnReadDone(bool ok) {
  if (!ok) {
    // The worker closed its side, the call ended, or a message did not parse as a
    // WorkerMessage (gRPC ends the reads on it).
    bool awaiting_hello;
    {
      absl::MutexLock lock(&mu_);
      awaiting_hello = phase_ == Phase::kAwaitingHello;
    }
    if (awaiting_hello) {
      LOG(WARNING) << "stream from " << call_->peer() << " ended before a valid Hello";
      End(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "the stream ended before a valid Hello (a message that is not a "
                       "WorkerMessage ends it)"));
    } else {
      End(grpc::Status::OK);
    }
    return;
  }
  Phase phase;
  {
    absl::MutexLock lock(&mu_);
    phase = phase_;
  }
  if (phase == Phase::kEnded) return;
  if (phase == Phase::kAwaitingHello) {
    // Stopped leading (or not confirmed lately) since the stream opened.
    if (!context_.leadership->IsLeader()) {
      EndAsFollower(*context_.leadership);
      return;
    }
    if (grpc::Status s = TakeHello(); !s.ok()) {
      End(s);
      return;
    }
  } else {
    TakeMessage();
  }
  absl::MutexLock lock(&mu_);
  if (phase_ == Phase::kEnded) return;
  StartRead(&in_);
}

grpc::Status WorkerStream::TakeHello() {
  if (!in_.has_hello() || in_.hello().worker_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message must be a Hello with a worker_id");
  }
  const v1::Hello& hello = in_.hello();
  const std::string& worker_id = hello.worker_id();
  // Admin requests name workers within this bound (common/admin_limits.h).
  if (absl::Status s = CheckMaxBytes("hello.worker_id", worker_id, kMaxWorkerIdBytes); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<uint64_t> connected = context_.fleet->Connect(hello, owner_);
  if (!connected.ok()) {
    LOG(WARNING) << "refused a Hello for worker " << worker_id << " from " << owner_ << " ("
                 << call_->peer() << "): " << connected.status().message();
    return ToGrpcStatus(connected.status());
  }
  build_version_ = hello.build_version();
  // Before the assignment is computed below: a change after that reaches the
  // stream through the pusher.
  context_.on_hello(worker_id, this);
  // Kept for a restart of the controller, by another thread (PostgreSQL is not
  // waited for on gRPC's threads).
  if (context_.registry != nullptr) context_.registry->Save(worker_id);
  LOG(INFO) << "worker " << worker_id << " (" << hello.build_version() << ", " << hello.host()
            << " pid " << hello.pid() << ") connected; applied "
            << (hello.last_applied_config_version().empty() ? "nothing"
                                                            : hello.last_applied_config_version());
  {
    absl::MutexLock lock(&mu_);
    worker_id_ = worker_id;
    stream_id_ = *connected;
    // Ended meanwhile (a late Hello): OnDone disconnects the worker.
    if (phase_ == Phase::kEnded) return grpc::Status::OK;
    phase_ = Phase::kConnected;
    sent_version_ = hello.last_applied_config_version();
    assignment_at_ = context_.fleet->AssignmentSeq(worker_id);
    assignment_ = context_.fleet->AssignmentFor(worker_id);
    if (assignment_.config_version() == sent_version_) {
      context_.fleet->RecordInSync(worker_id, assignment_);
      sent_ = assignment_;
    }
    // Tells the worker its Hello was taken (it starts sending stats then); the
    // assignment follows when this completes.
    call_->AddInitialMetadata("x-sluice-controller", "1");
    writing_ = true;
    // Under mu_, so no End() (hence Finish) comes between the phase check and
    // the operation; see Push().
    StartSendInitialMetadata();
  }
  return grpc::Status::OK;
}

void WorkerStream::TakeMessage() {
  std::string worker_id;
  {
    absl::MutexLock lock(&mu_);
    worker_id = worker_id_;
  }
  Fleet& fleet = *context_.fleet;
  switch (in_.kind_case()) {
    case v1::WorkerMessage::kAck:
      fleet.RecordAck(worker_id, in_.ack());
      break;
    case v1::WorkerMessage::kNack:
      LOG(WARNING) << "worker " << worker_id << " refused " << in_.nack().config_version() << ": "
                   << in_.nack().error_detail();
      fleet.RecordNack(worker_id, in_.nack());
      break;
    case v1::WorkerMessage::kStats:
      if (const int dropped = fleet.AcceptStats(worker_id, in_.mutable_stats());
          dropped > 0 && !warned_unassigned_) {
        warned_unassigned_ = true;
        LOG(WARNING) << "worker " << worker_id << " reported " << dropped
                     << " pipelines it was never assigned; ignored";
      }
      context_.stats->Add(worker_id, build_version_, in_.stats());
      break;
    default:
      break;
  }
}

void WorkerStream::OnSendInitialMetadataDone(bool ok) { WriteCompleted(ok); }

void WorkerStream::OnWriteDone(bool ok) { WriteCompleted(ok); }

void WorkerStream::WriteCompleted(bool ok) {
  if (!ok) {
    End(grpc::Status::OK);  // the call is gone; nothing reaches the worker
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
  }
  Push();
}

void WorkerStream::Push() {
  absl::MutexLock lock(&mu_);
  if (phase_ != Phase::kConnected || !NextWriteLocked()) return;
  // Under mu_: released before it, an End() on another thread could Finish the
  // call, and gRPC complete it and run OnDone, before this write starts (a write
  // after Finish, into a call gRPC has freed). Safe in gRPC 1.51: the write,
  // read and metadata reactions never run inline in the caller (can_inline is
  // false for them), and Finish's inline callback does not run OnDone inline.
  StartWrite(&out_);
}

bool WorkerStream::NextWriteLocked() {
  if (writing_) return false;  // OnWriteDone pushes what changed meanwhile
  // A replica whose leadership is not confirmed lately assigns nothing (another
  // may lead by now); the pusher pushes to every stream when it is again.
  if (!context_.leadership->IsLeader()) {
    context_.pushes_held_back->store(true);
    return false;
  }
  Fleet& fleet = *context_.fleet;
  // A superseded stream (its worker reconnected) sends nothing more: its push
  // would replace the nonce the worker's new stream is answering.
  if (!fleet.IsCurrent(worker_id_, stream_id_)) return false;
  // The sequence first: a change after it is seen by the next Push.
  if (const uint64_t seq = fleet.AssignmentSeq(worker_id_); seq != assignment_at_) {
    assignment_at_ = seq;
    assignment_ = fleet.AssignmentFor(worker_id_);
  }
  // The worker already holds this version (its Hello said so, and the
  // assignment came back to it before anything was pushed): nothing to push,
  // but the horizon is computed on it.
  if (assignment_.config_version() == sent_version_ && sent_.config_version() != sent_version_) {
    fleet.RecordInSync(worker_id_, assignment_);
    sent_ = assignment_;
  }
  if (assignment_.config_version() != sent_version_) {
    assignment_.set_nonce(absl::StrCat((*context_.next_nonce)++));
    fleet.RecordPush(worker_id_, assignment_);
    out_.Clear();
    *out_.mutable_assignment() = assignment_;
    sent_version_ = assignment_.config_version();
    sent_ = assignment_;
    // Per stream only at -v=1: a flag change in a fleet of thousands would write
    // a line per worker. The pusher logs one line per change.
    VLOG(1) << "pushed " << sent_version_ << " (" << assignment_.pipelines_size() << " pipelines"
            << (assignment_.draining() ? ", draining" : "") << ") to " << worker_id_;
  } else if (std::optional<v1::ScheduleHorizon> horizon = fleet.ScheduleHorizonFor(sent_);
             horizon && horizon->flags_size() > 0) {
    // After the assignment it covers, so the worker holds the schedules before it
    // hears how far they are complete (it checks the versions anyway).
    std::string serialized = horizon->SerializeAsString();
    if (serialized == sent_horizon_) return false;
    sent_horizon_ = std::move(serialized);
    out_.Clear();
    *out_.mutable_horizon() = *std::move(horizon);
  } else {
    return false;
  }
  writing_ = true;
  return true;
}

void WorkerStream::Check() {
  std::optional<grpc::Status> reason;
  {
    absl::MutexLock lock(&mu_);
    if (phase_ == Phase::kEnded) return;
    reason = ReasonToEndLocked();
  }
  if (reason) End(*reason);
}

std::optional<grpc::Status> WorkerStream::ReasonToEndLocked() {
  const absl::Time now = context_.clock->Now();
  if (phase_ == Phase::kAwaitingHello) {
    if (now - opened_at_ <= context_.hello_timeout) return std::nullopt;
    const std::string timeout = absl::FormatDuration(context_.hello_timeout);
    LOG(WARNING) << "stream from " << call_->peer() << " sent no Hello within " << timeout
                 << "; ended";
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        absl::StrCat("no Hello within ", timeout, " of opening the stream"));
  }
  // A token revoked meanwhile (SIGHUP) ends the stream.
  if (absl::StatusOr<Caller> still = context_.auth->Authorize(*call_, Role::kWorker); !still.ok()) {
    LOG(WARNING) << "worker " << worker_id_ << ": " << still.status().message() << "; stream ended";
    return ToGrpcStatus(still.status());
  }
  Fleet& fleet = *context_.fleet;
  if (!fleet.IsCurrent(worker_id_, stream_id_)) {
    return grpc::Status(grpc::StatusCode::ABORTED, absl::StrCat("a newer stream of worker ",
                                                                worker_id_, " replaced this one"));
  }
  // Alive is not enough: a worker that stopped sending (a hung process, a host
  // gone without closing the connection, until keepalives notice) would hold its
  // pipelines. Ending the stream starts its lease.
  if (std::optional<absl::Duration> silent = fleet.SilentFor(worker_id_, stream_id_)) {
    const std::string for_how_long =
        absl::FormatDuration(absl::Trunc(*silent, absl::Milliseconds(100)));
    LOG(WARNING) << "worker " << worker_id_ << " sent nothing for " << for_how_long
                 << " (stats are due every stats interval); stream ended, its lease starts";
    return grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("the controller heard nothing from worker ", worker_id_, " for ", for_how_long,
                     " (stats are due every stats interval); its lease started"));
  }
  return std::nullopt;
}

void WorkerStream::End(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (phase_ == Phase::kEnded) return;
    phase_ = Phase::kEnded;
    // Under mu_, as the operations it must follow (see Push()).
    Finish(status);
  }
  DisconnectOnce();
}

void WorkerStream::EndAsFollower(const Leadership& leadership) {
  {
    absl::MutexLock lock(&mu_);
    if (phase_ == Phase::kEnded) return;
    phase_ = Phase::kEnded;
    // The metadata before the Finish that sends it, both under mu_.
    Finish(FollowerRefusal(leadership, call_));
  }
  DisconnectOnce();
}

void WorkerStream::DisconnectOnce() {
  std::string worker_id;
  uint64_t stream_id;
  {
    absl::MutexLock lock(&mu_);
    if (stream_id_ == 0 || disconnected_) return;
    disconnected_ = true;
    worker_id = worker_id_;
    stream_id = stream_id_;
  }
  context_.fleet->Disconnect(worker_id, stream_id);
  LOG(INFO) << "worker " << worker_id << " stream ended";
}

void WorkerStream::OnDone() {
  DisconnectOnce();
  std::string worker_id;
  {
    absl::MutexLock lock(&mu_);
    worker_id = worker_id_;
  }
  on_done_(this, worker_id);  // may destroy this stream: last
}

}  // namespace sluice::controller
