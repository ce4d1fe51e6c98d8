// One pipeline's ingestion on this worker, as PipelineManager drives it. The
// Kafka + PostgreSQL implementation is pipeline_runner.h; tests use a fake.
#ifndef SLUICE_WORKER_PIPELINE_H_
#define SLUICE_WORKER_PIPELINE_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "flags/flag_schedule.h"
#include "sluice/v1/pipeline.pb.h"
#include "sluice/v1/stats.pb.h"

namespace sluice::worker {

// Created prepared (its configuration checked against Kafka and PostgreSQL) but
// not consuming, so a new version can be checked while the old one still runs.
class Pipeline {
 public:
  virtual ~Pipeline() = default;

  // Starts consuming (joins the consumer group) on its own thread. Called once.
  virtual void Launch() = 0;
  // Writes the open batch, leaves the group and joins the thread. Idempotent;
  // may take up to the shutdown timeout.
  virtual void Stop() = 0;
  // A new version whose only change is in the batch limits: applied live.
  virtual void Update(const v1::PipelineConfig& config, uint64_t version) = 0;
  // A new version of the rollout flag's schedule, applied live.
  virtual void SetFlag(std::shared_ptr<const flags::FlagSchedule> flag) = 0;
  // The controller's horizon for the rollout flag: schedules at `flag_version` or
  // later are complete up to `known_until` (Router::ExtendKnownUntil).
  virtual void ExtendScheduleHorizon(uint64_t flag_version, absl::Time known_until,
                                     absl::Duration hold_limit, absl::Duration lead) = 0;
  // Version of the rollout flag in use (0 without a rollout).
  virtual uint64_t flag_version() const = 0;
  virtual const v1::PipelineConfig& config() const = 0;
  virtual uint64_t version() const = 0;

  // Stats deltas since the previous call. Thread-safe.
  virtual v1::PipelineStats TakeStats() = 0;
  // OK while it ingests normally; UNAVAILABLE with the reason otherwise.
  // Thread-safe.
  virtual absl::Status Ready() const = 0;
  // Why its loop ended by itself (a fatal Kafka error); empty while it runs or
  // after Stop(). Thread-safe.
  virtual std::optional<absl::Status> Exited() const = 0;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_PIPELINE_H_
