// WorkerControl.Connect: one stream per worker (WorkerStream, on gRPC's callback
// API); one thread pushes what changed to every stream.
#ifndef SLUICE_CONTROLLER_WORKER_CONTROL_SERVICE_H_
#define SLUICE_CONTROLLER_WORKER_CONTROL_SERVICE_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/call_authorizer.h"
#include "controller/fleet.h"
#include "controller/leadership.h"
#include "controller/stats_aggregator.h"
#include "controller/worker_registry.h"
#include "controller/worker_registry_writer.h"
#include "controller/worker_stream.h"
#include "sluice/v1/control.grpc.pb.h"

namespace sluice::controller {

// A stream costs no thread: 10,000 workers are 10,000 reactors, one pusher
// thread and gRPC's own threads (the synchronous API held two threads per
// stream). Stream states: wait for Hello (at most `hello_timeout`) → push the
// assignment unless the worker already applied that version → push each new
// version and schedule horizon → on ACK or NACK record the outcome. A newer
// stream of the same worker supersedes this one when it comes from the same
// token name; from another one it is refused (PERMISSION_DENIED) while this one
// is live. Streams need the worker role (`auth`).
class WorkerControlService final : public v1::WorkerControl::CallbackService {
 public:
  // `registry` (may be null) keeps each connected worker across controller
  // restarts. Starts the pusher thread.
  // Streams are served while this replica leads (`leadership`); a follower
  // refuses them with UNAVAILABLE naming the leader.
  WorkerControlService(Fleet* fleet, StatsAggregator* stats, WorkerRegistry* registry,
                       const CallAuthorizer& auth, const Leadership& leadership, const Clock& clock,
                       absl::Duration hello_timeout = absl::Seconds(10));
  // Stops the pusher. Call Shutdown() and shut the server down first.
  ~WorkerControlService() override;

  grpc::ServerBidiReactor<v1::WorkerMessage, v1::ControllerMessage>* Connect(
      grpc::CallbackServerContext* call) override;

  // Ends every open stream (UNAVAILABLE) and stops the pusher, before the server
  // shuts down.
  void Shutdown();
  // This replica stopped leading: ends every open stream with the follower's
  // refusal (UNAVAILABLE naming the new leader, if known), so the workers
  // reconnect to it. New streams are refused while it follows.
  void EndStreamsOnStepDown();

  // Ends the streams whose Hello is late, whose token was revoked, whose worker
  // went silent or that a newer stream replaced. The pusher calls it every
  // recheck interval; tests call it after moving their clock.
  void CheckStreams();
  // Open streams (tests, and the log).
  size_t stream_count() const;

 private:
  // The pusher: waits for a fleet change or the recheck interval, then pushes to
  // the streams of the workers whose assignment changed (every stream when the
  // schedule horizon moved) and checks the streams every recheck interval.
  void Run();
  std::vector<std::shared_ptr<WorkerStream>> Streams() const;
  // The streams of these workers (a worker may have a new stream and the one it
  // replaces).
  std::vector<std::shared_ptr<WorkerStream>> StreamsOf(const std::set<std::string>& workers) const;

  Fleet* fleet_;
  const Leadership& leadership_;
  std::optional<WorkerRegistryWriter> registry_writer_;
  std::atomic<uint64_t> next_nonce_{1};
  std::atomic<bool> pushes_held_back_{false};
  const WorkerStreamContext context_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<WorkerStream*, std::shared_ptr<WorkerStream>> streams_ ABSL_GUARDED_BY(mu_);
  // Streams whose Hello was taken, by worker id.
  std::multimap<std::string, WorkerStream*> by_worker_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> shutting_down_{false};
  std::thread pusher_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_WORKER_CONTROL_SERVICE_H_
