#include "controller/admin_request_checks.h"

#include "absl/strings/str_cat.h"
#include "common/admin_limits.h"
#include "common/identifiers.h"
#include "common/status_macros.h"

namespace sluice::controller {
namespace {

absl::Status Required(absl::string_view field, absl::string_view value, size_t max_bytes) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  return CheckMaxBytes(field, value, max_bytes);
}

absl::Status Prefixed(absl::string_view field, const absl::Status& s) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(field, ": ", s.message()));
}

}  // namespace

absl::Status CheckNameArg(absl::string_view field, absl::string_view name) {
  return Required(field, name, kMaxNameBytes);
}

absl::Status CheckWorkerIdArg(absl::string_view field, absl::string_view worker_id) {
  return Required(field, worker_id, kMaxWorkerIdBytes);
}

absl::Status CheckCreateFlagRequest(const v1::CreateFlagRequest& req) {
  RETURN_IF_ERROR(CheckMaxBytes("name", req.name(), kMaxNameBytes));
  RETURN_IF_ERROR(Prefixed("name", CheckObjectName(req.name())));
  RETURN_IF_ERROR(CheckMaxBytes("description", req.description(), kMaxDescriptionBytes));
  RETURN_IF_ERROR(CheckNoNul("description", req.description()));
  RETURN_IF_ERROR(CheckMaxBytes("salt", req.salt(), kMaxSaltBytes));
  RETURN_IF_ERROR(CheckNoNul("salt", req.salt()));
  // Every OpenFeature evaluator must hash it as the workers do.
  return Prefixed("salt", CheckPortableSalt(req.salt()));
}

absl::Status CheckListAuditRequest(const v1::ListAuditRequest& req) {
  return CheckMaxBytes("target", req.target(), kMaxAuditTargetBytes);
}

absl::Status CheckResetOffsetsRequest(const v1::ResetOffsetsRequest& req) {
  RETURN_IF_ERROR(CheckNameArg("pipeline", req.pipeline()));
  RETURN_IF_ERROR(CheckMaxBytes("topic", req.topic(), kMaxTopicBytes));
  return Prefixed("topic", CheckTopicName(req.topic()));
}

}  // namespace sluice::controller
