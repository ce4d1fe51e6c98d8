// Writes a pipeline's dead letters again (sluicectl deadletters replay), through
// the worker's own sink: the pipeline's current column mapping and write mode, the
// same refusal and isolation rules, rows and "replayed" marks in one transaction.
#ifndef SLUICE_CONTROLLER_DEAD_LETTER_REPLAYER_H_
#define SLUICE_CONTROLLER_DEAD_LETTER_REPLAYER_H_

#include <string>

#include "absl/status/statusor.h"
#include "sluice/v1/admin.pb.h"

namespace sluice::controller {

class DeadLetterReplayer {
 public:
  // `conninfo`: the ingestion database (the controller's own, where the workers
  // keep sluice_dead_letters).
  explicit DeadLetterReplayer(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  // Replays the pending dead letters of `pipeline` that `filter` selects, oldest
  // first, at most kMaxReplay per call. What a dead letter no longer has (its Kafka
  // timestamp, its headers) is NULL in the columns mapped from it. UNAVAILABLE
  // when PostgreSQL cannot be reached; FAILED_PRECONDITION when the table does not
  // fit the mapping, or an upsert table has no column mapped from the offset;
  // ABORTED when another replay or a discard took some of them first (nothing
  // written).
  absl::StatusOr<v1::ReplayDeadLettersResponse> Replay(const v1::PipelineConfig& pipeline,
                                                       const v1::DeadLetterFilter& filter,
                                                       const std::string& actor);

  static constexpr int kMaxReplay = 10000;

 private:
  const std::string conninfo_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_DEAD_LETTER_REPLAYER_H_
