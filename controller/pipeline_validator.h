// Fills in defaults and checks a pipeline config before it is stored.
#ifndef SLUICE_CONTROLLER_PIPELINE_VALIDATOR_H_
#define SLUICE_CONTROLLER_PIPELINE_VALIDATOR_H_

#include "absl/status/status.h"
#include "sluice/v1/pipeline.pb.h"

namespace sluice::controller {

// Sets unset fields to their defaults: consumer group "sluice-<name>", table
// raw_items, payload json, 10000 rows, 16 MiB, consumer timeout 0.15 s, 1 worker.
void ApplyPipelineDefaults(v1::PipelineConfig* config);

// INVALID_ARGUMENT naming the field ("batch.consumer_timeout: must be greater than
// 0") for the first problem found. Expects defaults applied.
absl::Status ValidatePipelineConfig(const v1::PipelineConfig& config);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_PIPELINE_VALIDATOR_H_
