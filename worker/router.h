// Decides, per item, whether it takes the Kafka path or the legacy path.
#ifndef SLUICE_WORKER_ROUTER_H_
#define SLUICE_WORKER_ROUTER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "flags/flag_schedule.h"
#include "sluice/v1/pipeline.pb.h"
#include "worker/message.h"

namespace sluice::worker {

// The routing key of an item (flags::RoutingKeyOf): the Kafka key, or a top-level
// field of its JSON payload read in the rollout's key_form. A missing key, field or
// an unparsable payload gives "" — every evaluator does the same, so the item still
// lands on exactly one path.
std::string RoutingKey(const v1::Rollout& rollout, const Message& message);

// OK when this build routes by `rollout` exactly as the controller means it;
// FAILED_PRECONDITION naming the field otherwise (a key_form newer than the
// worker), so the pipeline is NACKed rather than routed by another rule.
absl::Status CheckRoutable(const v1::Rollout& rollout);

// Thread-safe: the ingest loop routes while the control client swaps schedules.
class Router {
 public:
  Router(v1::Rollout rollout, std::shared_ptr<const flags::FlagSchedule> schedule);

  // What Route saw of the item's timestamp, for the metrics.
  enum class Timestamp {
    kInSchedule,
    // sluice_items_without_timestamp_total: the legacy path.
    kMissing,
    // sluice_items_before_schedule_retention_total: older than the flag's kept
    // schedule, routed by its oldest kept change.
    kBeforeKeptSchedule,
  };

  // Evaluates the flag as of the item's Kafka timestamp and sets message->path.
  // An item without a timestamp takes the legacy path (the flag as of the beginning
  // of time, FlagSchedule::EvaluateItem).
  Timestamp Route(Message* message) const;

  // A new version of the flag's schedule (changes arrive ahead of their effective
  // time, so items are routed the same whenever they are processed).
  void SetSchedule(std::shared_ptr<const flags::FlagSchedule> schedule);
  uint64_t schedule_version() const;

 private:
  const v1::Rollout rollout_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const flags::FlagSchedule> schedule_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_ROUTER_H_
