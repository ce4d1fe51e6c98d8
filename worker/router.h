// Decides, per item, whether it takes the Kafka path or the legacy path.
#ifndef SLUICE_WORKER_ROUTER_H_
#define SLUICE_WORKER_ROUTER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "flags/flag_schedule.h"
#include "sluice/v1/pipeline.pb.h"
#include "worker/json_reader.h"
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

// How long an item beyond the known schedule may wait before the controller has
// said (ScheduleHorizon.hold_limit): three of the default propagation leads.
inline constexpr absl::Duration kDefaultScheduleHoldLimit = absl::Seconds(90);

// Thread-safe: the ingest loop routes while the control client swaps schedules.
class Router {
 public:
  // `mapped_pointers`: the pipeline's column mapping's JSON Pointers
  // (JsonPointersOf). A rollout keyed by a JSON field in RAW_JSON form reads them
  // in the same pass as its routing field, into Message::json, so each payload is
  // read once for routing, validation and mapping.
  Router(v1::Rollout rollout, std::shared_ptr<const flags::FlagSchedule> schedule,
         const std::vector<std::vector<std::string>>& mapped_pointers = {});

  // What Route saw of the item's timestamp, for the metrics.
  enum class Timestamp {
    kInSchedule,
    // sluice_items_without_timestamp_total: the legacy path.
    kMissing,
    // sluice_items_before_schedule_retention_total: older than the flag's kept
    // schedule, routed by its oldest kept change.
    kBeforeKeptSchedule,
    // Later than known_until(): a change this worker has not received may apply
    // to it. Not routed (message->path untouched); the ingest loop holds it.
    kBeyondKnownSchedule,
  };

  // Evaluates the flag as of the item's Kafka timestamp and sets message->path
  // (and message->json, when the routing key comes from reading the payload).
  // An item without a timestamp takes the legacy path (the flag as of the beginning
  // of time, FlagSchedule::EvaluateItem), whatever the horizon.
  Timestamp Route(Message* message) const;

  // A new version of the flag's schedule (changes arrive ahead of their effective
  // time, so items are routed the same whenever they are processed). The horizon
  // stays: a later version agrees with the earlier one up to it.
  void SetSchedule(std::shared_ptr<const flags::FlagSchedule> schedule);
  uint64_t schedule_version() const;

  // The controller's word that schedules at `flag_version` or later are complete
  // up to `known_until` (v1::ScheduleHorizon). Ignored while the schedule held is
  // older; never moves the horizon back. `hold_limit` bounds how long an item
  // beyond the horizon may wait.
  void ExtendKnownUntil(uint64_t flag_version, absl::Time known_until, absl::Duration hold_limit,
                        absl::Duration lead = absl::ZeroDuration());
  // Items with a timestamp after this are not routed (InfinitePast until the
  // controller's first horizon).
  absl::Time known_until() const;
  absl::Duration hold_limit() const;
  // The propagation lead (zero until the controller said): with the hold limit,
  // how far ahead of now an item can be and still become known in time.
  absl::Duration lead() const;

 private:
  std::string KeyOf(Message* message) const;

  const v1::Rollout rollout_;
  // Set when the routing key is read with ReadJson: the mapped pointers, then
  // the routing field's, in slot routing_slot_.
  std::optional<JsonPointerSet> read_pointers_;
  size_t routing_slot_ = 0;
  mutable absl::Mutex mu_;
  std::shared_ptr<const flags::FlagSchedule> schedule_ ABSL_GUARDED_BY(mu_);
  absl::Time known_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration hold_limit_ ABSL_GUARDED_BY(mu_) = kDefaultScheduleHoldLimit;
  absl::Duration lead_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_ROUTER_H_
