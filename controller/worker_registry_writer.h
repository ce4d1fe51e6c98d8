// Saves the registry entries of workers that said Hello, away from the threads
// that run the streams.
#ifndef SLUICE_CONTROLLER_WORKER_REGISTRY_WRITER_H_
#define SLUICE_CONTROLLER_WORKER_REGISTRY_WRITER_H_

#include <set>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/fleet.h"
#include "controller/leadership.h"
#include "controller/worker_registry.h"

namespace sluice::controller {

// A Hello is taken on one of gRPC's callback threads, which must not wait for
// PostgreSQL (a slow database would stall every stream). The worker ids queued
// meanwhile are saved together, in one transaction, with what the fleet knows of
// them at that moment. A failed save is logged and tried again a second later:
// losing an entry only costs that worker's pipelines staying put across a
// controller restart. A batch the database refuses is saved row by row, so one
// bad row holds back no other; a database that is away fails the round at once.
class WorkerRegistryWriter {
 public:
  // The second between a failed save and its retry is waited on `clock`.
  // Rows are saved only while this replica leads (`leadership`; null: always):
  // a replica that stepped down must not overwrite what the new leader records
  // (a drain, a worker forgotten); its rows wait for the day it leads again.
  WorkerRegistryWriter(const Fleet* fleet, WorkerRegistry* registry, const Clock& clock,
                       const Leadership* leadership = nullptr);
  // Tries once more to save what is queued, then stops.
  ~WorkerRegistryWriter();

  WorkerRegistryWriter(const WorkerRegistryWriter&) = delete;
  WorkerRegistryWriter& operator=(const WorkerRegistryWriter&) = delete;

  // Queues the entry of `worker_id` (the fleet's view of it when it is written).
  void Save(const std::string& worker_id);
  // Blocks until everything queued before the call was tried (tests).
  void Flush();

 private:
  void Run();
  // Saves the ids queued; false if the save failed (they are queued again).
  bool SaveQueued();

  const Fleet* fleet_;
  WorkerRegistry* registry_;
  const Clock& clock_;
  const Leadership* const leadership_;
  absl::Mutex mu_;
  std::set<std::string> queued_ ABSL_GUARDED_BY(mu_);
  // Rounds tried, and rounds asked for by Flush().
  uint64_t rounds_done_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rounds_wanted_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_WORKER_REGISTRY_WRITER_H_
