// Fills in defaults and checks a pipeline config before it is stored.
#ifndef SLUICE_CONTROLLER_PIPELINE_VALIDATOR_H_
#define SLUICE_CONTROLLER_PIPELINE_VALIDATOR_H_

#include "absl/status/status.h"
#include "sluice/v1/pipeline.pb.h"

namespace sluice::controller {

// Sets unset fields to their defaults: consumer group "sluice-<name>", table
// raw_items, payload json, 10000 rows, 16 MiB, consumer timeout 0.15 s, 1 worker.
void ApplyPipelineDefaults(v1::PipelineConfig* config);

// Decides the rollout's key_form (it matters only with a json_field). A new
// pipeline, or one that gains its json_field now, gets RAW_JSON unless it names a
// form; an existing one keeps its stored form (UNSPECIFIED is written as MINIFIED,
// what it has always meant). Changing the form of an existing json_field rollout
// would move keys between paths while items are in flight: FAILED_PRECONDITION.
// `stored` is the pipeline as stored, or null for a new one.
absl::Status SettleKeyForm(const v1::PipelineConfig* stored, v1::PipelineConfig* config);

// INVALID_ARGUMENT naming the field ("batch.consumer_timeout: must be greater than
// 0") for the first problem found. Expects defaults applied.
absl::Status ValidatePipelineConfig(const v1::PipelineConfig& config);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_PIPELINE_VALIDATOR_H_
