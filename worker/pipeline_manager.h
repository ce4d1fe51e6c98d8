// Turns the controller's assignments into running pipelines.
#ifndef SLUICE_WORKER_PIPELINE_MANAGER_H_
#define SLUICE_WORKER_PIPELINE_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sluice/v1/control.pb.h"
#include "worker/assignment_handler.h"
#include "worker/pipeline_runner.h"

namespace sluice::worker {

// Starts a runner (production: PipelineRunner::Start); injected for tests.
using RunnerFactory = std::function<absl::StatusOr<std::unique_ptr<PipelineRunner>>(
    const v1::PipelineConfig&, uint64_t version,
    std::shared_ptr<const flags::FlagSchedule> rollout_flag)>;

// Thread-safe. Apply() brings the running pipelines to an assignment:
//   new pipeline → validated and started; unchanged → left alone;
//   only batch limits changed → applied live; anything else changed → restarted
//   (topics resubscribe); absent (removed, paused, draining) → flushed and stopped.
// A pipeline that fails validation keeps its previous version running, and the
// failure is reported so the assignment can be NACKed.
class PipelineManager : public AssignmentHandler {
 public:
  explicit PipelineManager(RunnerFactory factory) : factory_(std::move(factory)) {}
  ~PipelineManager() override { StopAll(); }

  // Returns one error per pipeline that could not be applied (empty: ACK).
  std::vector<v1::PipelineError> Apply(const v1::Assignment& assignment) override;
  // Deltas of every running pipeline since the last call.
  std::vector<v1::PipelineStats> TakeStats() override;
  void StopAll();
  // OK when every running pipeline is ready (or none is assigned).
  absl::Status Ready() const;
  std::vector<std::string> RunningPipelines() const;

 private:
  mutable absl::Mutex mu_;
  RunnerFactory factory_;
  std::map<std::string, std::unique_ptr<PipelineRunner>> runners_ ABSL_GUARDED_BY(mu_);
};

// True when `a` and `b` differ only in batch limits (and desired_workers, which
// concerns the controller), so the change can be applied without a restart.
bool OnlyLimitsDiffer(const v1::PipelineConfig& a, const v1::PipelineConfig& b);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_PIPELINE_MANAGER_H_
