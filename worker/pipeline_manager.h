// Turns the controller's assignments into running pipelines.
#ifndef SLUICE_WORKER_PIPELINE_MANAGER_H_
#define SLUICE_WORKER_PIPELINE_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "sluice/v1/control.pb.h"
#include "worker/assignment_handler.h"
#include "worker/pipeline.h"
#include "worker/router.h"

namespace sluice::worker {

// Creates a pipeline, prepared but not launched (production:
// PipelineRunner::Create). FAILED_PRECONDITION / UNAVAILABLE say why it cannot run.
using PipelineFactory = std::function<absl::StatusOr<std::unique_ptr<Pipeline>>(
    const v1::PipelineConfig&, uint64_t version,
    std::shared_ptr<const flags::FlagSchedule> rollout_flag)>;

struct PipelineManagerOptions {
  // A pipeline whose loop ended by itself is started again after this backoff.
  absl::Duration restart_initial = absl::Seconds(1);
  absl::Duration restart_max = absl::Minutes(1);
};

// Thread-safe. Apply() brings the running pipelines to an assignment:
//   new pipeline → prepared and launched; unchanged → left alone;
//   only batch limits changed → applied live; anything else changed → the new
//   version is prepared while the old one keeps running, then replaces it;
//   absent (removed, paused, draining) → flushed and stopped.
// A version that cannot be prepared is reported (NACK) and the last good version
// keeps running, untouched. So is one whose kafka properties a pipeline may not
// set (common/kafka_property_policy.h): it never reaches the factory. A pipeline whose loop ended by itself is restarted
// with backoff (by TakeStats(), every stats interval), its state visible in its
// stats' `problem` and in Ready(). Stopping a pipeline never holds the lock that
// Ready() and TakeStats() take.
class PipelineManager : public AssignmentHandler {
 public:
  PipelineManager(PipelineFactory factory, const Clock* clock,
                  PipelineManagerOptions options = {});
  ~PipelineManager() override { StopAll(); }

  // Returns one error per pipeline that could not be applied (empty: ACK).
  std::vector<v1::PipelineError> Apply(const v1::Assignment& assignment) override;
  // Deltas of every pipeline since the last call (stopped ones included once),
  // each with its `problem`; restarts the pipelines whose loop ended when due.
  std::vector<v1::PipelineStats> TakeStats() override;
  // Passes the horizon to each running pipeline whose rollout flag it lists.
  void ExtendScheduleHorizon(const v1::ScheduleHorizon& horizon) override;
  void StopAll();
  // OK when every pipeline is ready (or none is assigned).
  absl::Status Ready() const;
  std::vector<std::string> RunningPipelines() const;

 private:
  struct Entry {
    std::unique_ptr<Pipeline> pipeline;
    std::shared_ptr<const flags::FlagSchedule> flag;
    // Set while the pipeline's loop has ended and a restart is pending.
    std::optional<absl::Time> restart_at;
    int restarts = 0;
    std::string problem;
  };

  // The last schedule horizon heard for a flag (v1::ScheduleHorizon).
  struct KnownHorizon {
    uint64_t version = 0;
    absl::Time known_until = absl::InfinitePast();
    absl::Duration hold_limit = kDefaultScheduleHoldLimit;
    absl::Duration lead = absl::ZeroDuration();
  };
  // Passes the last horizon of its rollout flag to `pipeline` (its router checks
  // the version).
  void ApplyKnownHorizon(Pipeline* pipeline) ABSL_LOCKS_EXCLUDED(mu_);
  void ApplyKnownHorizonLocked(Pipeline* pipeline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Restarts due pipelines whose loop ended. Needs apply_mu_.
  void RestartExited() ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  // Takes `name` out of the map, stops it without holding mu_, keeps its last stats.
  void StopAndRemove(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  std::string ProblemOf(const Entry& e) const;

  const PipelineFactory factory_;
  const Clock* const clock_;
  const PipelineManagerOptions options_;
  // Serialises Apply, restarts and StopAll: what changes the set of pipelines.
  absl::Mutex apply_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Guards the map only; never held while a pipeline stops.
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> pipelines_ ABSL_GUARDED_BY(mu_);
  // Rollout flag → the last horizon heard for it.
  std::map<std::string, KnownHorizon> horizons_ ABSL_GUARDED_BY(mu_);
  // Final deltas of pipelines stopped since the last TakeStats().
  std::vector<v1::PipelineStats> leftover_stats_ ABSL_GUARDED_BY(mu_);
};

// True when `a` and `b` differ only in batch limits (and desired_workers, which
// concerns the controller), so the change can be applied without a restart.
bool OnlyLimitsDiffer(const v1::PipelineConfig& a, const v1::PipelineConfig& b);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_PIPELINE_MANAGER_H_
