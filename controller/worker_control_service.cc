#include "controller/worker_control_service.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/admin_limits.h"
#include "common/grpc_status.h"
#include "glog/logging.h"

namespace sluice::controller {
namespace {

bool SameHorizon(const v1::ScheduleHorizon& a, const v1::ScheduleHorizon& b) {
  return a.SerializeAsString() == b.SerializeAsString();
}

}  // namespace

void WorkerControlService::Shutdown() {
  shutting_down_ = true;
  fleet_->Notify();
}

grpc::Status WorkerControlService::Connect(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::ControllerMessage, v1::WorkerMessage>* stream) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*context, Role::kWorker);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // The sync API cannot time out a Read, so a watchdog cancels the call if Hello is
  // late. Once cancelled, the client sees CANCELLED ("Cancelled on the server side"),
  // not the DEADLINE_EXCEEDED returned below (that needs the callback API); the
  // warning in the log says why.
  v1::WorkerMessage first;
  bool got_first = false;
  bool hello_late = false;
  {
    absl::Notification first_read;
    std::atomic<bool> late{false};
    std::thread watchdog([&] {
      if (!first_read.WaitForNotificationWithTimeout(hello_timeout_)) {
        late = true;
        context->TryCancel();
      }
    });
    got_first = stream->Read(&first);
    first_read.Notify();
    watchdog.join();
    hello_late = late;
  }
  if (hello_late) {
    LOG(WARNING) << "stream from " << context->peer() << " sent no Hello within "
                 << absl::FormatDuration(hello_timeout_) << "; ended";
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        absl::StrCat("no Hello within ", absl::FormatDuration(hello_timeout_),
                                     " of opening the stream"));
  }
  // The sync API reads a message that does not parse as a WorkerMessage (truncated,
  // or a string that is not UTF-8) as the end of the stream: either way no Hello.
  if (!got_first) {
    LOG(WARNING) << "stream from " << context->peer() << " ended before a valid Hello";
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the stream ended before a valid Hello (a message that is not a "
                        "WorkerMessage ends it)");
  }
  if (!first.has_hello() || first.hello().worker_id().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message must be a Hello with a worker_id");
  }
  // Admin requests name workers within this bound (common/admin_limits.h).
  if (absl::Status s =
          CheckMaxBytes("hello.worker_id", first.hello().worker_id(), kMaxWorkerIdBytes);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  const v1::Hello hello = first.hello();
  const std::string worker_id = hello.worker_id();
  absl::StatusOr<uint64_t> connected = fleet_->Connect(hello, caller->owner);
  if (!connected.ok()) {
    LOG(WARNING) << "refused a Hello for worker " << worker_id << " from " << caller->name << " ("
                 << context->peer() << "): " << connected.status().message();
    return ToGrpcStatus(connected.status());
  }
  const uint64_t stream_id = *connected;
  // Tells the worker its Hello was taken (it starts sending stats then).
  context->AddInitialMetadata("x-sluice-controller", "1");
  stream->SendInitialMetadata();
  // Kept for a restart of the controller (outside the fleet's lock). A failure
  // only costs this worker's pipelines staying put across a restart.
  if (registry_ != nullptr) {
    if (std::optional<KnownWorker> known = fleet_->Known(worker_id)) {
      if (absl::Status s = registry_->SaveWorker(*known); !s.ok()) {
        LOG(WARNING) << "worker " << worker_id
                     << " not recorded for a controller restart: " << s.message();
      }
    }
  }

  LOG(INFO) << "worker " << worker_id << " (" << hello.build_version() << ", " << hello.host()
            << " pid " << hello.pid() << ") connected; applied "
            << (hello.last_applied_config_version().empty() ? "nothing"
                                                            : hello.last_applied_config_version());

  std::atomic<bool> reader_done{false};
  std::thread reader([&] {
    v1::WorkerMessage msg;
    bool warned_unassigned = false;
    while (stream->Read(&msg)) {
      switch (msg.kind_case()) {
        case v1::WorkerMessage::kAck:
          fleet_->RecordAck(worker_id, msg.ack());
          break;
        case v1::WorkerMessage::kNack:
          LOG(WARNING) << "worker " << worker_id << " refused " << msg.nack().config_version()
                       << ": " << msg.nack().error_detail();
          fleet_->RecordNack(worker_id, msg.nack());
          break;
        case v1::WorkerMessage::kStats:
          fleet_->Touch(worker_id);
          if (const int dropped = fleet_->DropUnassignedStats(worker_id, msg.mutable_stats());
              dropped > 0 && !warned_unassigned) {
            warned_unassigned = true;
            LOG(WARNING) << "worker " << worker_id << " reported " << dropped
                         << " pipelines it was never assigned; ignored";
          }
          fleet_->RecordProblems(worker_id, msg.stats());
          stats_->Add(worker_id, hello.build_version(), msg.stats());
          break;
        default:
          break;
      }
    }
    reader_done = true;
    fleet_->Notify();
  });

  std::string last_sent = hello.last_applied_config_version();
  {
    v1::Assignment current = fleet_->AssignmentFor(worker_id);
    if (current.config_version() == last_sent) fleet_->RecordInSync(worker_id, current);
  }
  v1::ScheduleHorizon last_horizon;
  uint64_t seen = fleet_->generation();
  // The generation the assignment was last computed at (none yet).
  std::optional<uint64_t> looked_at;
  // The assignment as last computed, and the assignment generation it was at.
  v1::Assignment assignment;
  std::optional<uint64_t> assignment_at;
  grpc::Status ended = grpc::Status::OK;
  while (!reader_done && !context->IsCancelled() && !shutting_down_ &&
         fleet_->IsCurrent(worker_id, stream_id)) {
    // A token revoked meanwhile (SIGHUP) ends the stream.
    if (absl::StatusOr<Caller> still = auth_.Authorize(*context, Role::kWorker); !still.ok()) {
      LOG(WARNING) << "worker " << worker_id << ": " << still.status().message() << "; stream ended";
      ended = ToGrpcStatus(still.status());
      break;
    }
    // Alive is not enough: a worker that stopped sending (a hung process, a host
    // gone without closing the connection, until keepalives notice) would hold
    // its pipelines. Ending the stream starts its lease. (The worker sees
    // CANCELLED: the reader is unblocked by cancelling the call.)
    if (std::optional<absl::Duration> silent = fleet_->SilentFor(worker_id, stream_id)) {
      LOG(WARNING) << "worker " << worker_id << " sent nothing for "
                   << absl::FormatDuration(absl::Trunc(*silent, absl::Milliseconds(100)))
                   << " (stats are due every stats interval); stream ended, its lease starts";
      break;
    }
    // Only when something changed: an idle stream wakes each recheck interval for
    // the checks above, and 1,000 of them recomputing assignments cost a core.
    if (seen == looked_at) {
      seen = fleet_->WaitForChange(seen, fleet_->stream_recheck_interval());
      continue;
    }
    looked_at = seen;
    // A horizon move wakes the stream but changes no assignment.
    if (const uint64_t g = fleet_->assignment_generation(); g != assignment_at) {
      assignment_at = g;
      assignment = fleet_->AssignmentFor(worker_id);
    }
    if (assignment.config_version() != last_sent) {
      assignment.set_nonce(absl::StrCat(next_nonce_++));
      v1::ControllerMessage out;
      *out.mutable_assignment() = assignment;
      fleet_->RecordPush(worker_id, assignment);
      if (!stream->Write(out)) break;
      last_sent = assignment.config_version();
      LOG(INFO) << "pushed " << assignment.config_version() << " (" << assignment.pipelines_size()
                << " pipelines" << (assignment.draining() ? ", draining" : "") << ") to "
                << worker_id;
    }
    // After the assignment on the same stream, so the worker holds the schedules
    // before it hears how far they are complete (it checks the versions anyway).
    if (std::optional<v1::ScheduleHorizon> horizon = fleet_->ScheduleHorizonFor(assignment);
        horizon && horizon->flags_size() > 0 && !SameHorizon(*horizon, last_horizon)) {
      v1::ControllerMessage out;
      *out.mutable_horizon() = *horizon;
      if (!stream->Write(out)) break;
      last_horizon = std::move(*horizon);
    }
    seen = fleet_->WaitForChange(seen, fleet_->stream_recheck_interval());
  }
  // Unblock the reader if it is still waiting, then wait for it.
  context->TryCancel();
  reader.join();
  fleet_->Disconnect(worker_id, stream_id);
  LOG(INFO) << "worker " << worker_id << " stream ended";
  return ended;
}

}  // namespace sluice::controller
