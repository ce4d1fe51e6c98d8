// The workers the controller knows, kept across its restarts: after a restart the
// fleet starts from them (each with a fresh lease) instead of from nobody, so the
// first worker to reconnect does not take every pipeline (issue 10).
#ifndef SLUICE_CONTROLLER_WORKER_REGISTRY_H_
#define SLUICE_CONTROLLER_WORKER_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/v1/control.pb.h"

namespace sluice::controller {

// What survives a restart of one worker's entry.
struct KnownWorker {
  // Its latest Hello (id, build, capabilities: what assignment depends on).
  v1::Hello hello;
  // The token name that owns the id.
  std::string owner;
  bool draining = false;
};

// Implemented by StateStore; a fake in tests. Calls are made outside the fleet's
// lock (a slow database must not stall the streams).
class WorkerRegistry {
 public:
  virtual ~WorkerRegistry() = default;
  // Inserts or replaces the entry of each worker.hello.worker_id(), all in one
  // transaction (1,000 workers reconnecting after a restart are saved in a few).
  virtual absl::Status SaveWorkers(const std::vector<KnownWorker>& workers) = 0;
  // Removes the entries of workers whose lease expired.
  virtual absl::Status ForgetWorkers(const std::vector<std::string>& worker_ids) = 0;
  virtual absl::StatusOr<std::vector<KnownWorker>> LoadWorkers() = 0;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_WORKER_REGISTRY_H_
