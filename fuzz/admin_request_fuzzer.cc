// The admin API's request checks: controller/admin_request_checks and
// controller/pipeline_validator, run as the admin service runs them.
// Input: one byte choosing the request type, then that request serialized.
// Whatever is accepted must keep the bounds of common/admin_limits.h and the rules
// the checks document; those are restated here, not called.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/admin_limits.h"
#include "common/kafka_property_policy.h"
#include "controller/admin_request_checks.h"
#include "controller/pipeline_validator.h"
#include "fuzz/fuzz_check.h"
#include "sluice/v1/admin.pb.h"

namespace {

namespace v1 = ::sluice::v1;

// An error names its field and never echoes a value past the bounds: the longest
// echo is a Kafka property value (4 KiB) with its name.
void CheckRefusal(const absl::Status& s, absl::StatusCode code) {
  if (s.ok()) return;
  FUZZ_CHECK(s.code() == code, s.ToString());
  FUZZ_CHECK(s.message().size() <= 2 * sluice::kMaxKafkaPropertyValueBytes,
             absl::StrCat("a ", s.message().size(), "-byte message"));
  const size_t colon = s.message().find(": ");
  FUZZ_CHECK(colon != absl::string_view::npos && colon > 0,
             "the message names no field: " + std::string(s.message().substr(0, 200)));
}

bool IsObjectName(absl::string_view s) {
  if (s.empty() || s.size() > 63 || !(absl::ascii_islower(s[0]) || absl::ascii_isdigit(s[0]))) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_';
  });
}

bool IsTopic(absl::string_view s) {
  return !s.empty() && s.size() <= sluice::kMaxTopicBytes && s != "." && s != ".." &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
         });
}

bool IsTable(absl::string_view s) {
  if (s.size() > sluice::kMaxTableNameBytes) return false;
  const std::vector<absl::string_view> parts = absl::StrSplit(s, '.');
  if (parts.size() > 2) return false;
  for (absl::string_view p : parts) {
    if (p.empty() || p.size() > 63 || !(absl::ascii_isalpha(p[0]) || p[0] == '_')) return false;
    for (char c : p) {
      if (!absl::ascii_isalnum(c) && c != '_') return false;
    }
  }
  return true;
}

// The controller stores what it accepts as jsonb, which refuses the escape \u0000
// (a NUL in any string): what it accepts must be storable.
void CheckStorable(const google::protobuf::Message& m) {
  std::string json;
  FUZZ_CHECK(google::protobuf::util::MessageToJsonString(m, &json).ok(), "no JSON form");
  // An escape \u0000, not an escaped backslash before "u0000": an odd run of
  // backslashes.
  for (size_t at = json.find("u0000"); at != std::string::npos; at = json.find("u0000", at + 1)) {
    size_t backslashes = 0;
    while (backslashes < at && json[at - 1 - backslashes] == '\\') ++backslashes;
    FUZZ_CHECK(backslashes % 2 == 0, "jsonb cannot store " + json.substr(0, 400));
  }
}

// The bounds an accepted (defaulted, validated, settled) pipeline config keeps.
void CheckAcceptedConfig(const v1::PipelineConfig& c) {
  const std::string at = " in " + c.ShortDebugString().substr(0, 400);
  CheckStorable(c);
  FUZZ_CHECK(IsObjectName(c.name()), "name" + at);
  FUZZ_CHECK(c.topics_size() >= 1 && c.topics_size() <= sluice::kMaxTopics, "topics" + at);
  for (const std::string& t : c.topics()) FUZZ_CHECK(IsTopic(t), "topic" + at);
  FUZZ_CHECK(
      !c.consumer_group().empty() && c.consumer_group().size() <= sluice::kMaxConsumerGroupBytes,
      "consumer_group" + at);
  FUZZ_CHECK(IsTable(c.target().table()), "target.table" + at);
  FUZZ_CHECK(v1::PayloadFormat_IsValid(c.payload_format()) &&
                 c.payload_format() != v1::PAYLOAD_FORMAT_UNSPECIFIED,
             "payload_format" + at);
  const v1::BatchLimits& b = c.batch();
  FUZZ_CHECK(b.max_rows() >= 1 && b.max_rows() <= 1000000, "batch.max_rows" + at);
  FUZZ_CHECK(b.max_bytes() >= 1 && b.max_bytes() <= (uint64_t{1} << 30), "batch.max_bytes" + at);
  // (0, 1h], counted without overflow in whole milliseconds, as the check rounds.
  const __int128 timeout_ms = static_cast<__int128>(b.consumer_timeout().seconds()) * 1000 +
                              b.consumer_timeout().nanos() / 1000000;
  FUZZ_CHECK(b.consumer_timeout().seconds() >= 0 && b.consumer_timeout().nanos() >= 0 &&
                 timeout_ms > 0 && timeout_ms <= 3600 * 1000,
             "batch.consumer_timeout" + at);
  FUZZ_CHECK(c.desired_workers() >= 1 && c.desired_workers() <= 256, "desired_workers" + at);
  FUZZ_CHECK(c.kafka_properties_size() <= sluice::kMaxKafkaProperties, "kafka_properties" + at);
  static const std::vector<std::string> allowed = sluice::PipelineKafkaPropertyNames();
  for (const auto& [name, value] : c.kafka_properties()) {
    FUZZ_CHECK(std::binary_search(allowed.begin(), allowed.end(), name),
               "kafka property " + name.substr(0, 100) + " is not on the allowlist");
    FUZZ_CHECK(value.size() <= sluice::kMaxKafkaPropertyValueBytes, "kafka property value" + at);
  }
  if (!c.has_rollout()) return;
  const v1::Rollout& r = c.rollout();
  FUZZ_CHECK(IsObjectName(r.flag()), "rollout.flag" + at);
  FUZZ_CHECK(r.routing_key_case() != v1::Rollout::ROUTING_KEY_NOT_SET, "rollout.routing_key" + at);
  if (r.has_json_field()) {
    FUZZ_CHECK(!r.json_field().empty() && r.json_field().size() <= sluice::kMaxJsonFieldBytes,
               "rollout.json_field" + at);
    // Settled: a json_field rollout always names its form.
    FUZZ_CHECK(r.key_form() == v1::ROUTING_KEY_FORM_MINIFIED ||
                   r.key_form() == v1::ROUTING_KEY_FORM_RAW_JSON,
               "rollout.key_form" + at);
  } else {
    FUZZ_CHECK(r.key_form() == v1::ROUTING_KEY_FORM_UNSPECIFIED, "rollout.key_form" + at);
  }
  FUZZ_CHECK(r.legacy_action_case() != v1::Rollout::LEGACY_ACTION_NOT_SET,
             "rollout.legacy_action" + at);
  if (r.has_legacy_table()) {
    FUZZ_CHECK(IsTable(r.legacy_table()) && r.legacy_table() != c.target().table(),
               "rollout.legacy_table" + at);
  }
}

// What AdminService::CheckedPipeline does: defaults, validation, the key form.
absl::Status CheckPipeline(const v1::PipelineConfig* stored, v1::PipelineConfig* config) {
  sluice::controller::ApplyPipelineDefaults(config);
  absl::Status s = sluice::controller::ValidatePipelineConfig(*config);
  CheckRefusal(s, absl::StatusCode::kInvalidArgument);
  if (!s.ok()) return s;
  s = sluice::controller::SettleKeyForm(stored, config);
  CheckRefusal(s, absl::StatusCode::kFailedPrecondition);
  if (s.ok()) CheckAcceptedConfig(*config);
  return s;
}
// Runs `check` on `bytes` parsed as a Request; bytes that do not parse are skipped.
template <typename Request, typename Check>
void WithRequest(absl::string_view bytes, Check check) {
  Request req;
  if (req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) check(req);
}

// Whether an admin_request_checks function accepted, its refusal checked.
bool Accepts(const absl::Status& s) {
  CheckRefusal(s, absl::StatusCode::kInvalidArgument);
  return s.ok();
}

bool IsNameArg(absl::string_view name) { return !name.empty() && name.size() <= 63; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0:
      WithRequest<v1::CreatePipelineRequest>(bytes, [](const auto& req) {
        v1::PipelineConfig config = req.config();
        CheckPipeline(nullptr, &config).IgnoreError();
      });
      break;
    case 1:  // an update over the same config as stored, asking for another key form
      WithRequest<v1::UpdatePipelineRequest>(bytes, [](const auto& req) {
        FUZZ_CHECK(Accepts(sluice::controller::CheckNameArg("name", req.config().name())) ==
                       IsNameArg(req.config().name()),
                   "name");
        v1::PipelineConfig stored = req.config();
        if (!CheckPipeline(nullptr, &stored).ok()) return;
        v1::PipelineConfig config = req.config();
        if (config.has_rollout()) {
          config.mutable_rollout()->set_key_form(
              static_cast<v1::RoutingKeyForm>(req.expected_version() % 4));
        }
        if (!CheckPipeline(&stored, &config).ok()) return;
        // An existing json_field rollout keeps its form.
        if (stored.has_rollout() && stored.rollout().has_json_field()) {
          FUZZ_CHECK(config.rollout().key_form() == stored.rollout().key_form(),
                     "the key form changed: " + config.rollout().ShortDebugString());
        }
      });
      break;
    case 2:
      WithRequest<v1::ValidatePipelineRequest>(bytes, [](const auto& req) {
        v1::PipelineConfig config = req.config();
        CheckPipeline(nullptr, &config).IgnoreError();
      });
      break;
    case 3:
      WithRequest<v1::CreateFlagRequest>(bytes, [](const auto& req) {
        if (!Accepts(sluice::controller::CheckCreateFlagRequest(req))) return;
        CheckStorable(req);
        FUZZ_CHECK(IsObjectName(req.name()) &&
                       req.description().size() <= sluice::kMaxDescriptionBytes &&
                       req.salt().size() <= sluice::kMaxSaltBytes,
                   req.ShortDebugString().substr(0, 400));
      });
      break;
    case 4:
      WithRequest<v1::ListAuditRequest>(bytes, [](const auto& req) {
        FUZZ_CHECK(Accepts(sluice::controller::CheckListAuditRequest(req)) ==
                       (req.target().size() <= sluice::kMaxAuditTargetBytes),
                   "target");
      });
      break;
    case 5:
      WithRequest<v1::ResetOffsetsRequest>(bytes, [](const auto& req) {
        FUZZ_CHECK(Accepts(sluice::controller::CheckResetOffsetsRequest(req)) ==
                       (IsNameArg(req.pipeline()) && IsTopic(req.topic())),
                   req.ShortDebugString().substr(0, 400));
      });
      break;
    case 6:  // a pipeline or flag looked up by name (get, delete, pause, set, ...)
      WithRequest<v1::GetPipelineRequest>(bytes, [](const auto& req) {
        FUZZ_CHECK(
            Accepts(sluice::controller::CheckNameArg("name", req.name())) == IsNameArg(req.name()),
            "name");
      });
      break;
    case 7:  // a worker by id (get, drain)
      WithRequest<v1::DrainWorkerRequest>(bytes, [](const auto& req) {
        FUZZ_CHECK(Accepts(sluice::controller::CheckWorkerIdArg("worker_id", req.worker_id())) ==
                       IsNameArg(req.worker_id()),
                   "worker_id");
      });
      break;
  }
  return 0;
}
