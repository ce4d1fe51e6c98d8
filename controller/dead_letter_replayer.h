// Writes a pipeline's dead letters again (sluicectl deadletters replay), through
// the worker's own sink: the pipeline's current column mapping and write mode, the
// same refusal and isolation rules, rows and "replayed" marks in one transaction.
#ifndef SLUICE_CONTROLLER_DEAD_LETTER_REPLAYER_H_
#define SLUICE_CONTROLLER_DEAD_LETTER_REPLAYER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "flags/flag_schedule.h"
#include "sluice/v1/admin.pb.h"

namespace sluice::controller {

class DeadLetterReplayer {
 public:
  // `conninfo`: the ingestion database (the controller's own, where the workers
  // keep sluice_dead_letters).
  explicit DeadLetterReplayer(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  // Replays the pending dead letters of `pipeline` that `filter` selects, oldest
  // first, at most kMaxReplay per call, with their Kafka timestamps and headers.
  // Under a rollout each goes to the table of the path it was on; one without a
  // path (unrouted: its timestamp lay beyond the schedule its worker knew) is routed
  // by `flag` as of its timestamp when that is before `decided_before` (no change
  // can still be scheduled before it), else it stays pending with the reason, as
  // does a dead letter written before Sluice kept paths. UNAVAILABLE
  // when PostgreSQL cannot be reached; FAILED_PRECONDITION when the table does not
  // fit the mapping, or an upsert table has no column mapped from the offset;
  // ABORTED when another replay or a discard took some of them first (nothing
  // written).
  // `flag`: the schedule of the pipeline's rollout flag; nullptr without a rollout.
  absl::StatusOr<v1::ReplayDeadLettersResponse> Replay(
      const v1::PipelineConfig& pipeline, const v1::DeadLetterFilter& filter,
      const std::string& actor, std::shared_ptr<const flags::FlagSchedule> flag,
      absl::Time decided_before);

  static constexpr int kMaxReplay = 10000;

 private:
  const std::string conninfo_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_DEAD_LETTER_REPLAYER_H_
