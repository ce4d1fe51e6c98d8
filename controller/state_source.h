// The stored state the controller serves from, and where it is read: StateSync
// reads it through StateSource (StateStore in the controller, a fake in tests)
// and hands each snapshot to the Fleet.
#ifndef SLUICE_CONTROLLER_STATE_SOURCE_H_
#define SLUICE_CONTROLLER_STATE_SOURCE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sluice/v1/admin.pb.h"
#include "sluice/v1/flags.pb.h"

namespace sluice::controller {

// What the controller serves from: the pipelines and flags as of one revision of
// the stored state (sluice_controller.state_revision, bumped by every write).
struct StateSnapshot {
  uint64_t revision = 0;
  std::vector<v1::Pipeline> pipelines;
  std::vector<v1::Flag> flags;
};

// Where StateSync reads the stored state from (StateStore; a fake in tests).
class StateSource {
 public:
  virtual ~StateSource() = default;
  // The pipelines, flags and revision, read in one snapshot.
  virtual absl::StatusOr<StateSnapshot> LoadState() = 0;
  // The revision alone: cheap, to poll for changes (e.g. by another controller).
  virtual absl::StatusOr<uint64_t> Revision() = 0;
  // Waits until every flag write in progress has committed and returns the time
  // then: a state read after it holds every flag write that could have scheduled
  // a change earlier than (the time + the lead - the write allowance). See
  // ScheduleHorizonKeeper.
  virtual absl::StatusOr<absl::Time> ScheduleBarrier() = 0;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_STATE_SOURCE_H_
