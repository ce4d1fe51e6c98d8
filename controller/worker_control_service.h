// WorkerControl.Connect: one stream per worker; pushes its assignment whenever it
// changes, records ACK/NACK, takes stats reports.
#ifndef SLUICE_CONTROLLER_WORKER_CONTROL_SERVICE_H_
#define SLUICE_CONTROLLER_WORKER_CONTROL_SERVICE_H_

#include <atomic>

#include "absl/time/time.h"
#include "controller/call_authorizer.h"
#include "controller/fleet.h"
#include "controller/stats_aggregator.h"
#include "controller/worker_registry.h"
#include "sluice/v1/control.grpc.pb.h"

namespace sluice::controller {

class WorkerControlService final : public v1::WorkerControl::Service {
 public:
  // A stream that sends no Hello within `hello_timeout` is cancelled by the server
  // (the client sees CANCELLED), so an idle or hostile client cannot hold a thread.
  // Streams need the worker role (`auth`); a worker id whose stream is live
  // belongs to the token name that opened it.
  // `registry` (may be null) keeps each connected worker across controller restarts.
  WorkerControlService(Fleet* fleet, StatsAggregator* stats, WorkerRegistry* registry,
                       const CallAuthorizer& auth, absl::Duration hello_timeout = absl::Seconds(10))
      : fleet_(fleet),
        stats_(stats),
        registry_(registry),
        auth_(auth),
        hello_timeout_(hello_timeout) {}

  // Stream states: wait for Hello (at most hello_timeout) → push the assignment
  // unless the worker already applied that version → wait for changes and push each new version → on ACK or
  // NACK record the outcome. A newer stream of the same worker supersedes this one
  // when it comes from the same token name; from another one it is refused
  // (PERMISSION_DENIED) while this one is live.
  grpc::Status Connect(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ControllerMessage, v1::WorkerMessage>* stream) override;

  // Makes every open stream end soon (before the server shuts down).
  void Shutdown();

 private:
  Fleet* fleet_;
  StatsAggregator* stats_;
  WorkerRegistry* registry_;
  const CallAuthorizer& auth_;
  const absl::Duration hello_timeout_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> next_nonce_{1};
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_WORKER_CONTROL_SERVICE_H_
