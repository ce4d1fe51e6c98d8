// What the control client drives: the part of the worker that runs assignments.
#ifndef SLUICE_WORKER_ASSIGNMENT_HANDLER_H_
#define SLUICE_WORKER_ASSIGNMENT_HANDLER_H_

#include <vector>

#include "sluice/v1/control.pb.h"

namespace sluice::worker {

// Called on the control client's threads, one call at a time per method.
class AssignmentHandler {
 public:
  virtual ~AssignmentHandler() = default;
  // Brings the worker to `assignment`, applying what it can; returns one error per
  // pipeline it could not apply (empty: ACK).
  virtual std::vector<v1::PipelineError> Apply(const v1::Assignment& assignment) = 0;
  // Stats deltas since the previous call.
  virtual std::vector<v1::PipelineStats> TakeStats() = 0;
  // How far the flag schedules are known (sent after assignments and as the
  // horizon moves): extends each rollout's horizon whose flag it lists.
  virtual void ExtendScheduleHorizon(const v1::ScheduleHorizon& horizon) = 0;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_ASSIGNMENT_HANDLER_H_
