// The workers' pre-flight check of a pipeline's target table, run by the
// controller for `pipelines validate` before anything is pushed: the controller
// shares the ingestion database, and the check is the worker sink's own.
#ifndef SLUICE_CONTROLLER_TARGET_TABLE_CHECKER_H_
#define SLUICE_CONTROLLER_TARGET_TABLE_CHECKER_H_

#include <string>

#include "absl/status/statusor.h"
#include "sluice/v1/pipeline.pb.h"

namespace sluice::controller {

class TargetTableChecker {
 public:
  // `conninfo`: the ingestion database (the controller's own).
  explicit TargetTableChecker(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  // What a worker would NACK `pipeline` for, from its tables ("" when they fit);
  // UNAVAILABLE when PostgreSQL cannot be reached.
  absl::StatusOr<std::string> Check(const v1::PipelineConfig& pipeline) const;

 private:
  const std::string conninfo_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_TARGET_TABLE_CHECKER_H_
