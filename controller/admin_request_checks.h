// Checks of the admin API's request fields that are not a pipeline config (that is
// pipeline_validator.h): names in lookups, flag creation, audit filters. Each
// returns INVALID_ARGUMENT naming the field, with the bounds of
// common/admin_limits.h; pure functions, so the admin service calls them before it
// reads or writes anything.
#ifndef SLUICE_CONTROLLER_ADMIN_REQUEST_CHECKS_H_
#define SLUICE_CONTROLLER_ADMIN_REQUEST_CHECKS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sluice/v1/admin.pb.h"

namespace sluice::controller {

// A pipeline or flag name used to look one up (get, delete, pause, set, ...):
// 1-63 bytes. Only the length: a name that is not stored is NOT_FOUND later.
absl::Status CheckNameArg(absl::string_view field, absl::string_view name);

// A worker id in a request (get, drain): 1-63 bytes.
absl::Status CheckWorkerIdArg(absl::string_view field, absl::string_view worker_id);

// name a valid object name (common/identifiers.h), description ≤ 1 KiB, salt
// ≤ 63 bytes (empty means the name), neither with a NUL byte.
absl::Status CheckCreateFlagRequest(const v1::CreateFlagRequest& req);

// The audit filter `target` (a pipeline, flag or worker): empty (all) or ≤ 63 bytes.
absl::Status CheckListAuditRequest(const v1::ListAuditRequest& req);

// `pipeline` as CheckNameArg, `topic` a Kafka topic name.
absl::Status CheckResetOffsetsRequest(const v1::ResetOffsetsRequest& req);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_ADMIN_REQUEST_CHECKS_H_
