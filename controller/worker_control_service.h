// WorkerControl.Connect: one stream per worker; pushes its assignment whenever it
// changes, records ACK/NACK, takes stats reports.
#ifndef SLUICE_CONTROLLER_WORKER_CONTROL_SERVICE_H_
#define SLUICE_CONTROLLER_WORKER_CONTROL_SERVICE_H_

#include <atomic>

#include "controller/fleet.h"
#include "controller/stats_aggregator.h"
#include "sluice/v1/control.grpc.pb.h"

namespace sluice::controller {

class WorkerControlService final : public v1::WorkerControl::Service {
 public:
  WorkerControlService(Fleet* fleet, StatsAggregator* stats) : fleet_(fleet), stats_(stats) {}

  // Stream states: wait for Hello → push the assignment unless the worker already
  // applied that version → wait for changes and push each new version → on ACK or
  // NACK record the outcome. A newer stream of the same worker supersedes this one.
  grpc::Status Connect(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ControllerMessage, v1::WorkerMessage>* stream) override;

  // Makes every open stream end soon (before the server shuts down).
  void Shutdown();

 private:
  Fleet* fleet_;
  StatsAggregator* stats_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> next_nonce_{1};
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_WORKER_CONTROL_SERVICE_H_
