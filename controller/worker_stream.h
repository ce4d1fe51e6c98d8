// One worker's WorkerControl.Connect stream on gRPC's callback API.
#ifndef SLUICE_CONTROLLER_WORKER_STREAM_H_
#define SLUICE_CONTROLLER_WORKER_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/call_authorizer.h"
#include "controller/fleet.h"
#include "controller/leadership.h"
#include "controller/stats_aggregator.h"
#include "controller/worker_registry_writer.h"
#include "sluice/v1/control.grpc.pb.h"

namespace sluice::controller {

class WorkerStream;

// What every stream shares (owned by WorkerControlService).
struct WorkerStreamContext {
  Fleet* fleet;
  StatsAggregator* stats;
  // Null: nothing is kept for a controller restart.
  WorkerRegistryWriter* registry;
  const CallAuthorizer* auth;
  const Clock* clock;
  // A stream that sends no Hello within this is ended (DEADLINE_EXCEEDED).
  absl::Duration hello_timeout;
  // Nonces of pushed assignments, unique across the controller's streams.
  std::atomic<uint64_t>* next_nonce;
  // Called when a stream's Hello is taken, with its worker's id.
  std::function<void(const std::string&, WorkerStream*)> on_hello;
  // Streams take a Hello and push only while this replica leads.
  const Leadership* leadership;
  // Set by a stream that held a push back for want of a confirmed leadership:
  // the pusher pushes to every stream once it is confirmed again.
  std::atomic<bool>* pushes_held_back;
};

// Holds no thread. Reads run on gRPC's callback threads: the Hello connects the
// worker to the fleet, ACK/NACK and stats are recorded. Writes are started by
// whoever has something to send: the service's pusher after a fleet change
// (Push), or the stream itself when its previous write completes. Every gRPC
// operation is started under mu_ after checking the phase, so none follows the
// Finish that End() makes. One write at a time, and
// the latest assignment wins over one not yet sent. Check() ends the stream when
// Hello is late, the token was revoked, the worker went silent or a newer stream
// of the same worker replaced it: each with its own status, which the worker
// sees (the synchronous API could only cancel the call).
//
// Owned by a shared_ptr: WorkerStreams holds one until OnDone, and a Push or
// Check under way holds another, so the stream outlives both.
class WorkerStream final
    : public grpc::ServerBidiReactor<v1::WorkerMessage, v1::ControllerMessage> {
 public:
  // Authorizes the call (a refused one is finished at once). `on_done` is called
  // last, from OnDone, with the worker id of the Hello ("" if none was taken).
  WorkerStream(grpc::CallbackServerContext* call, const WorkerStreamContext& context,
               std::function<void(WorkerStream*, const std::string&)> on_done);

  // The fleet changed: sends the worker its assignment, or the schedule horizon,
  // if either moved since it was last sent.
  void Push();
  // Ends the stream if one of the reasons above holds.
  void Check();
  // Ends the stream with `status` (the controller shuts down). The worker is
  // disconnected from the fleet at once (its lease starts), even if a client that
  // reads nothing keeps the call itself open until keepalives give up on it.
  void End(const grpc::Status& status);
  // Ends the stream with the follower's refusal (UNAVAILABLE, the leader's address
  // in the trailing metadata) unless it has ended already.
  void EndAsFollower(const Leadership& leadership);

  void OnReadDone(bool ok) override;
  void OnSendInitialMetadataDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  enum class Phase { kAwaitingHello, kConnected, kEnded };

  // The first message: connects the worker. Not OK ends the stream.
  grpc::Status TakeHello();
  void TakeMessage();
  // A write or the initial metadata completed: the next one, if any.
  void WriteCompleted(bool ok);
  // Picks the next message to send into out_ (and marks a write as under way);
  // false if there is none or a write is under way.
  bool NextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<grpc::Status> ReasonToEndLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Disconnects the worker from the fleet, once.
  void DisconnectOnce();

  // Valid until OnDone, which follows the Finish that End() makes: used only
  // under mu_ while the phase is not kEnded.
  grpc::CallbackServerContext* const call_;
  const WorkerStreamContext context_;
  const std::function<void(WorkerStream*, const std::string&)> on_done_;
  const absl::Time opened_at_;
  // Only the read reactions touch it (one read at a time).
  v1::WorkerMessage in_;
  bool warned_unassigned_ = false;

  absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kAwaitingHello;
  // Set once the Hello is taken; constant afterwards.
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  std::string build_version_;
  // Who opened the stream (set by the constructor).
  std::string owner_;
  uint64_t stream_id_ ABSL_GUARDED_BY(mu_) = 0;
  bool disconnected_ ABSL_GUARDED_BY(mu_) = false;
  // Initial metadata or a message is on its way; out_ does not change until the
  // write completes (it is read by gRPC outside mu_).
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  v1::ControllerMessage out_;
  v1::Assignment assignment_ ABSL_GUARDED_BY(mu_);
  // The assignment as last computed, at this Fleet::AssignmentSeq.
  std::optional<uint64_t> assignment_at_ ABSL_GUARDED_BY(mu_);
  // What the worker holds or was sent: its version, and the horizon.
  std::string sent_version_ ABSL_GUARDED_BY(mu_);
  v1::Assignment sent_ ABSL_GUARDED_BY(mu_);
  std::string sent_horizon_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_WORKER_STREAM_H_
