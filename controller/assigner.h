// Which workers run which pipelines.
#ifndef SLUICE_CONTROLLER_ASSIGNER_H_
#define SLUICE_CONTROLLER_ASSIGNER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sluice/v1/admin.pb.h"
#include "sluice/v1/flags.pb.h"

namespace sluice::controller {

struct WorkerCandidate {
  std::string worker_id;
  // Draining workers get nothing.
  bool draining = false;
  // The routing key forms the worker announced in its Hello (beyond MINIFIED).
  std::vector<v1::RoutingKeyForm> routing_key_forms;
};

// Whether `worker` routes `config` as the controller means it: a json_field rollout
// whose key_form is neither UNSPECIFIED nor MINIFIED needs a worker that announced
// that form. A worker built before the form would ignore the unknown field and
// route by MINIFIED, putting items on another path than the other evaluators.
bool CanRun(const WorkerCandidate& worker, const v1::PipelineConfig& config);

// OK when the controller may push `config` to workers. A stored pipeline that
// holds a kafka property pipelines may no longer set (stored before the allowlist
// of common/kafka_property_policy.h) is FAILED_PRECONDITION, with the reason
// `pipelines status` shows: it is assigned to no worker, never stripped and pushed
// (a pipeline that runs differently from what is stored would be a surprise).
absl::Status CheckAssignable(const v1::PipelineConfig& config);

// A pipeline's picked workers, best first: (rendezvous hash of "pipeline/worker",
// worker id), in descending order.
using Picks = std::vector<std::pair<uint64_t, std::string>>;
// Pipeline name → its picks, for every running, assignable pipeline.
using PipelinePicks = std::map<std::string, Picks>;

// The picks that AssignPipelines assigns (below).
PipelinePicks PickWorkers(const std::vector<v1::Pipeline>& pipelines,
                          const std::vector<WorkerCandidate>& workers);

// `worker` (not draining) joins the candidates `picks` were made among: it enters
// the picks of each pipeline it can run where it ranks within desired_workers,
// displacing the last pick if they were full. The result is what PickWorkers
// gives over the candidates plus it, at the cost of one hash per pipeline instead
// of one per pipeline and worker (a fleet of 5,000 connecting). Returns the
// pipelines whose picks changed, with the worker displaced from each ("" if none).
std::map<std::string, std::string> AddWorker(const std::map<std::string, v1::Pipeline>& pipelines,
                                             const WorkerCandidate& worker, PipelinePicks* picks);

// For every running (not paused), assignable pipeline, picks its desired_workers workers among
// the non-draining candidates that CanRun it (none: the pipeline waits unassigned) by rendezvous hashing (highest hash of
// "pipeline/worker" wins): stable, so a worker joining or leaving moves only the
// pipelines it wins or held, and spread evenly across workers. Inside a pipeline,
// the Kafka consumer group balances partitions among the picked workers.
// Returns worker id → names of its pipelines (every candidate has an entry).
std::map<std::string, std::vector<std::string>> AssignPipelines(
    const std::vector<v1::Pipeline>& pipelines, const std::vector<WorkerCandidate>& workers);

// The digest that versions one worker's assignment: the same pipelines at the same
// versions give the same digest, in any process.
// Flags named by the pipelines count with their versions.
std::string AssignmentVersion(const std::vector<const v1::Pipeline*>& pipelines,
                              const std::vector<const v1::Flag*>& flags, bool draining);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_ASSIGNER_H_
