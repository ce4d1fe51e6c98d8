#include "controller/pipeline_validator.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/admin_limits.h"
#include "common/batch_limits.h"
#include "common/column_mapping.h"
#include "common/identifiers.h"
#include "common/kafka_property_policy.h"
#include "common/proto_time.h"
#include "common/status_macros.h"

namespace sluice::controller {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int64_t kMaxRows = 1000000;
constexpr int64_t kMaxBytes = int64_t{1} << 30;
constexpr uint32_t kMaxWorkers = 256;

absl::Status Field(const std::string& field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool HasJsonField(const v1::PipelineConfig& c) {
  return c.has_rollout() && c.rollout().has_json_field();
}

// UNSPECIFIED (pipelines stored before key forms) has always meant MINIFIED.
v1::RoutingKeyForm Effective(v1::RoutingKeyForm form) {
  return form == v1::ROUTING_KEY_FORM_UNSPECIFIED ? v1::ROUTING_KEY_FORM_MINIFIED : form;
}

}  // namespace

absl::Status SettleKeyForm(const v1::PipelineConfig* stored, v1::PipelineConfig* config) {
  if (!HasJsonField(*config)) return absl::OkStatus();
  v1::Rollout* r = config->mutable_rollout();
  if (stored == nullptr || !HasJsonField(*stored)) {
    if (r->key_form() == v1::ROUTING_KEY_FORM_UNSPECIFIED) {
      r->set_key_form(v1::ROUTING_KEY_FORM_RAW_JSON);
    }
    return absl::OkStatus();
  }
  const v1::RoutingKeyForm kept = Effective(stored->rollout().key_form());
  if (r->key_form() != v1::ROUTING_KEY_FORM_UNSPECIFIED && Effective(r->key_form()) != kept) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rollout.key_form: pipeline ", config->name(), " routes by ",
        v1::RoutingKeyForm_Name(kept), "; changing it would move items between paths, so "
        "create a new pipeline for ", v1::RoutingKeyForm_IsValid(r->key_form())
                                          ? v1::RoutingKeyForm_Name(r->key_form())
                                          : absl::StrCat(static_cast<int>(r->key_form()))));
  }
  r->set_key_form(kept);
  return absl::OkStatus();
}

void ApplyPipelineDefaults(v1::PipelineConfig* c) {
  if (c->consumer_group().empty() && !c->name().empty()) {
    c->set_consumer_group("sluice-" + c->name());
  }
  if (c->target().table().empty()) c->mutable_target()->set_table("raw_items");
  if (c->payload_format() == v1::PAYLOAD_FORMAT_UNSPECIFIED) {
    c->set_payload_format(v1::PAYLOAD_FORMAT_JSON);
  }
  v1::BatchLimits* b = c->mutable_batch();
  if (b->max_rows() == 0) b->set_max_rows(10000);
  if (b->max_bytes() == 0) b->set_max_bytes(16 << 20);
  if (!b->has_consumer_timeout()) {
    *b->mutable_consumer_timeout() = TimeUtil::MillisecondsToDuration(150);
  }
  if (c->desired_workers() == 0) c->set_desired_workers(1);
  if (c->writers() == 0) c->set_writers(kDefaultWriters);
}

namespace {

// The bounds of common/admin_limits.h on the strings and maps, and no NUL in the
// free-form ones, before their contents are checked (which would echo an oversized
// value).
absl::Status CheckSizes(const v1::PipelineConfig& c) {
  RETURN_IF_ERROR(CheckMaxBytes("name", c.name(), kMaxNameBytes));
  if (c.topics_size() > kMaxTopics) {
    return Field("topics", absl::StrCat("must be at most ", kMaxTopics, " (got ",
                                        c.topics_size(), ")"));
  }
  for (int i = 0; i < c.topics_size(); ++i) {
    RETURN_IF_ERROR(CheckMaxBytes(absl::StrCat("topics[", i, "]"), c.topics(i), kMaxTopicBytes));
  }
  RETURN_IF_ERROR(CheckMaxBytes("consumer_group", c.consumer_group(), kMaxConsumerGroupBytes));
  RETURN_IF_ERROR(CheckNoNul("consumer_group", c.consumer_group()));
  RETURN_IF_ERROR(CheckMaxBytes("target.table", c.target().table(), kMaxTableNameBytes));
  if (c.kafka_properties_size() > kMaxKafkaProperties) {
    return Field("kafka_properties", absl::StrCat("must have at most ", kMaxKafkaProperties,
                                                  " entries (got ", c.kafka_properties_size(),
                                                  ")"));
  }
  for (const auto& [name, value] : c.kafka_properties()) {
    if (name.size() > kMaxKafkaPropertyNameBytes) {
      return Field("kafka_properties",
                   absl::StrCat("a property name must be at most ", kMaxKafkaPropertyNameBytes,
                                " bytes (got ", name.size(), ")"));
    }
    RETURN_IF_ERROR(CheckNoNul("kafka_properties", name));
    RETURN_IF_ERROR(CheckMaxBytes(absl::StrCat("kafka_properties[", name, "]"), value,
                                  kMaxKafkaPropertyValueBytes));
    RETURN_IF_ERROR(CheckNoNul(absl::StrCat("kafka_properties[", name, "]"), value));
  }
  if (c.has_rollout()) {
    RETURN_IF_ERROR(CheckMaxBytes("rollout.flag", c.rollout().flag(), kMaxNameBytes));
    RETURN_IF_ERROR(
        CheckMaxBytes("rollout.json_field", c.rollout().json_field(), kMaxJsonFieldBytes));
    RETURN_IF_ERROR(CheckNoNul("rollout.json_field", c.rollout().json_field()));
    RETURN_IF_ERROR(
        CheckMaxBytes("rollout.legacy_table", c.rollout().legacy_table(), kMaxTableNameBytes));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePipelineConfig(const v1::PipelineConfig& c) {
  RETURN_IF_ERROR(CheckSizes(c));
  if (absl::Status s = CheckObjectName(c.name()); !s.ok()) return Field("name", s.message());
  if (c.topics().empty()) return Field("topics", "must not be empty");
  for (int i = 0; i < c.topics_size(); ++i) {
    if (absl::Status s = CheckTopicName(c.topics(i)); !s.ok()) {
      return Field(absl::StrCat("topics[", i, "]"), s.message());
    }
  }
  if (c.consumer_group().empty()) return Field("consumer_group", "must not be empty");
  if (absl::Status s = CheckTableName(c.target().table()); !s.ok()) {
    return Field("target.table", s.message());
  }
  if (!v1::PayloadFormat_IsValid(c.payload_format())) {
    return Field("payload_format",
                 absl::StrCat("unknown value ", static_cast<int>(c.payload_format())));
  }
  const v1::BatchLimits& b = c.batch();
  // Through absl, which saturates: TimeUtil::DurationToMilliseconds multiplies the
  // seconds in int64 and wraps, so 2^61 + 1 s read as 1 s and passed the bound.
  const int64_t timeout_ms = absl::ToInt64Milliseconds(ToAbslDuration(b.consumer_timeout()));
  if (b.consumer_timeout().seconds() < 0 || b.consumer_timeout().nanos() < 0 || timeout_ms <= 0) {
    return Field("batch.consumer_timeout",
                 absl::StrCat("must be greater than 0 (got ",
                              absl::FormatDuration(absl::Milliseconds(timeout_ms)), ")"));
  }
  if (timeout_ms > 3600 * 1000) return Field("batch.consumer_timeout", "must be at most 1h");
  if (b.has_freshness_target()) {
    const absl::Duration target = ToAbslDuration(b.freshness_target());
    if (target < absl::Milliseconds(100) || target > absl::Hours(1)) {
      return Field("batch.freshness_target", absl::StrCat("must be within 100ms..1h (got ",
                                                          absl::FormatDuration(target), ")"));
    }
  }
  if (b.max_rows() > kMaxRows) {
    return Field("batch.max_rows", absl::StrCat("must be at most ", kMaxRows));
  }
  if (b.max_bytes() > static_cast<uint64_t>(kMaxBytes)) {
    return Field("batch.max_bytes", "must be at most 1GiB");
  }
  if (c.desired_workers() > kMaxWorkers) {
    return Field("desired_workers", absl::StrCat("must be at most ", kMaxWorkers));
  }
  if (c.writers() > static_cast<uint32_t>(kMaxWriters)) {
    return Field("writers", absl::StrCat("must be at most ", kMaxWriters));
  }
  // Pushed to every assigned worker: only consumer tuning (common/kafka_property_policy.h).
  RETURN_IF_ERROR(CheckPipelineKafkaProperties(c.kafka_properties()));
  RETURN_IF_ERROR(CheckColumnMappings(c.columns()));
  RETURN_IF_ERROR(CheckWriteMode(c));
  const v1::BadRowTolerance& t = c.bad_rows();
  if (!v1::BadRowTolerance::Mode_IsValid(t.mode())) {
    return Field("bad_rows.mode", absl::StrCat("unknown value ", static_cast<int>(t.mode())));
  }
  if (t.mode() == v1::BadRowTolerance::MODE_RATE) {
    // NaN fails both comparisons.
    if (!(t.max_rate() > 0 && t.max_rate() <= 1)) {
      return Field("bad_rows.max_rate", "must be greater than 0 and at most 1");
    }
    const absl::Duration window = ToAbslDuration(t.window());
    if (t.has_window() && (window < absl::Seconds(1) || window > absl::Hours(24))) {
      return Field("bad_rows.window", "must be from 1s to 24h");
    }
  } else if (t.max_rate() != 0 || t.has_window()) {
    return Field("bad_rows", "max_rate and window apply only to mode RATE");
  }
  if (c.has_rollout()) {
    const v1::Rollout& r = c.rollout();
    if (absl::Status s = CheckObjectName(r.flag()); !s.ok()) return Field("rollout.flag", s.message());
    if (r.routing_key_case() == v1::Rollout::ROUTING_KEY_NOT_SET ||
        (r.has_json_field() && r.json_field().empty())) {
      return Field("rollout.routing_key", "set kafka_key or a json_field");
    }
    if (!v1::RoutingKeyForm_IsValid(r.key_form())) {
      return Field("rollout.key_form", absl::StrCat("unknown value ", static_cast<int>(r.key_form())));
    }
    if (r.has_kafka_key() && r.key_form() != v1::ROUTING_KEY_FORM_UNSPECIFIED) {
      return Field("rollout.key_form", "applies only to a json_field routing key");
    }
    if (r.legacy_action_case() == v1::Rollout::LEGACY_ACTION_NOT_SET) {
      return Field("rollout.legacy_action", "set skip or a legacy_table");
    }
    if (r.has_legacy_table()) {
      if (absl::Status s = CheckTableName(r.legacy_table()); !s.ok()) {
        return Field("rollout.legacy_table", s.message());
      }
      if (r.legacy_table() == c.target().table()) {
        return Field("rollout.legacy_table", "must differ from target.table");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice::controller
