#include "controller/pipeline_validator.h"

#include <cmath>

#include "gtest/gtest.h"

namespace sluice::controller {
namespace {

v1::PipelineConfig Valid() {
  v1::PipelineConfig c;
  c.set_name("items");
  c.add_topics("items");
  ApplyPipelineDefaults(&c);
  return c;
}

// A change to a valid config, and the INVALID_ARGUMENT message it must get.
struct Refusal {
  std::function<void(v1::PipelineConfig*)> mutate;
  std::string message;
};

void ExpectRefused(const std::vector<Refusal>& refusals) {
  for (const Refusal& k : refusals) {
    v1::PipelineConfig c = Valid();
    k.mutate(&c);
    absl::Status s = ValidatePipelineConfig(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << k.message;
    EXPECT_EQ(s.message(), k.message);
  }
}

TEST(PipelineValidatorTest, DefaultsAreFilledIn) {
  v1::PipelineConfig c = Valid();
  EXPECT_EQ(c.consumer_group(), "sluice-items");
  EXPECT_EQ(c.target().table(), "raw_items");
  EXPECT_EQ(c.payload_format(), v1::PAYLOAD_FORMAT_JSON);
  EXPECT_EQ(c.batch().max_rows(), 10000u);
  EXPECT_EQ(c.batch().max_bytes(), 16u << 20);
  EXPECT_EQ(c.batch().consumer_timeout().nanos(), 150000000);
  EXPECT_EQ(c.desired_workers(), 1u);
  EXPECT_TRUE(ValidatePipelineConfig(c).ok());
}

TEST(PipelineValidatorTest, ErrorsNameTheField) {
  ExpectRefused({
      {[](auto* c) { c->set_name("Items!"); },
       "name: 'Items!' must be 1-63 of a-z, 0-9, - and _, starting with a letter or digit"},
      {[](auto* c) { c->clear_topics(); }, "topics: must not be empty"},
      {[](auto* c) { c->add_topics(""); },
       "topics[1]: '' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"},
      {[](auto* c) { c->mutable_target()->set_table("a.b.c"); },
       "target.table: 'a.b.c' has more than one dot"},
      {[](auto* c) { c->mutable_batch()->mutable_consumer_timeout()->set_nanos(-5000000); },
       "batch.consumer_timeout: must be greater than 0 (got -5ms)"},
      {[](auto* c) { c->mutable_batch()->mutable_consumer_timeout()->set_seconds(7200); },
       "batch.consumer_timeout: must be at most 1h"},
      {[](auto* c) { c->mutable_batch()->mutable_freshness_target()->set_nanos(50000000); },
       "batch.freshness_target: must be within 100ms..1h (got 50ms)"},
      {[](auto* c) { c->mutable_batch()->mutable_freshness_target()->set_seconds(3601); },
       "batch.freshness_target: must be within 100ms..1h (got 1h1s)"},
      {[](auto* c) { c->mutable_batch()->set_max_rows(2000000); },
       "batch.max_rows: must be at most 1000000"},
      {[](auto* c) { c->set_desired_workers(1000); }, "desired_workers: must be at most 256"},
      {[](auto* c) { (*c->mutable_kafka_properties())["group.id"] = "x"; },
       "kafka_properties: 'group.id' is not allowed in a pipeline (it is set by Sluice: the "
       "pipeline's consumer_group)"},
      // Each of these ran a command or loaded code on every assigned worker.
      {[](auto* c) {
         (*c->mutable_kafka_properties())["security.protocol"] = "SASL_PLAINTEXT";
         (*c->mutable_kafka_properties())["sasl.mechanisms"] = "GSSAPI";
         (*c->mutable_kafka_properties())["sasl.kerberos.kinit.cmd"] = "touch /tmp/pwned";
       },
       "kafka_properties: 'sasl.kerberos.kinit.cmd' is not allowed in a pipeline (it runs a "
       "command on every worker)"},
      {[](auto* c) { (*c->mutable_kafka_properties())["plugin.library.paths"] = "/tmp/x.so"; },
       "kafka_properties: 'plugin.library.paths' is not allowed in a pipeline (it loads a "
       "shared library on every worker)"},
      {[](auto* c) { (*c->mutable_kafka_properties())["metadata.broker.list"] = "evil:9092"; },
       "kafka_properties: 'metadata.broker.list' is not allowed in a pipeline (it is set by "
       "Sluice: the worker's --kafka-brokers)"},
      {[](auto* c) { (*c->mutable_kafka_properties())["topic.auto.offset.reset"] = "earliest"; },
       "kafka_properties: 'topic.auto.offset.reset' is not allowed in a pipeline (write it as "
       "'auto.offset.reset')"},
      {[](auto* c) { (*c->mutable_kafka_properties())["auto.offset.reset"] = "smallest"; },
       "kafka_properties: 'auto.offset.reset' must be earliest or latest in a pipeline (got "
       "'smallest')"},
  });
}

// Bounds of common/admin_limits.h: checked before the contents, so an oversized
// value is never echoed back.
TEST(PipelineValidatorTest, OversizedFieldsAreRefusedNamingTheField) {
  ExpectRefused({
      {[](auto* c) { c->set_name(std::string(64, 'a')); },
       "name: must be at most 63 bytes (got 64)"},
      {[](auto* c) { c->set_name(std::string(1 << 20, 'a')); },
       "name: must be at most 63 bytes (got 1048576)"},
      {[](auto* c) {
         c->clear_topics();
         for (int i = 0; i < 101; ++i) c->add_topics("t" + std::to_string(i));
       },
       "topics: must be at most 100 (got 101)"},
      {[](auto* c) { c->add_topics(std::string(250, 't')); },
       "topics[1]: must be at most 249 bytes (got 250)"},
      {[](auto* c) { c->set_consumer_group(std::string(256, 'g')); },
       "consumer_group: must be at most 255 bytes (got 256)"},
      {[](auto* c) { c->mutable_target()->set_table(std::string(128, 't')); },
       "target.table: must be at most 127 bytes (got 128)"},
      {[](auto* c) { c->mutable_target()->set_table(std::string(64, 't')); },
       "target.table: '" + std::string(64, 't') + "' is not a table name (letters, digits, _)"},
      {[](auto* c) {
         for (int i = 0; i < 65; ++i) (*c->mutable_kafka_properties())["p" + std::to_string(i)] = "1";
       },
       "kafka_properties: must have at most 64 entries (got 65)"},
      {[](auto* c) { (*c->mutable_kafka_properties())["fetch.wait.max.ms"] = std::string(4097, '5'); },
       "kafka_properties[fetch.wait.max.ms]: must be at most 4096 bytes (got 4097)"},
      {[](auto* c) { (*c->mutable_kafka_properties())[std::string(256, 'p')] = "1"; },
       "kafka_properties: a property name must be at most 255 bytes (got 256)"},
      {[](auto* c) {
         c->mutable_rollout()->set_flag(std::string(64, 'f'));
         c->mutable_rollout()->set_kafka_key(true);
         c->mutable_rollout()->set_skip(true);
       },
       "rollout.flag: must be at most 63 bytes (got 64)"},
      {[](auto* c) {
         c->mutable_rollout()->set_flag("f");
         c->mutable_rollout()->set_json_field(std::string(256, 'j'));
         c->mutable_rollout()->set_skip(true);
       },
       "rollout.json_field: must be at most 255 bytes (got 256)"},
      {[](auto* c) {
         c->mutable_rollout()->set_flag("f");
         c->mutable_rollout()->set_kafka_key(true);
         c->mutable_rollout()->set_legacy_table(std::string(64, 'l'));
       },
       "rollout.legacy_table: '" + std::string(64, 'l') +
           "' is not a table name (letters, digits, _)"},
  });
}

TEST(PipelineValidatorTest, FieldsAtTheirBoundsAreAccepted) {
  v1::PipelineConfig c = Valid();
  c.set_name(std::string(63, 'a'));
  c.clear_topics();
  for (int i = 0; i < 99; ++i) c.add_topics("t" + std::to_string(i));
  c.add_topics(std::string(249, 't'));
  c.set_consumer_group(std::string(255, 'g'));
  c.mutable_target()->set_table(std::string(63, 's') + "." + std::string(63, 't'));
  (*c.mutable_kafka_properties())["fetch.wait.max.ms"] = std::string(4096, '5');
  c.mutable_rollout()->set_flag(std::string(63, 'f'));
  c.mutable_rollout()->set_json_field(std::string(255, 'j'));
  c.mutable_rollout()->set_legacy_table(std::string(63, 'l'));
  EXPECT_TRUE(ValidatePipelineConfig(c).ok()) << ValidatePipelineConfig(c);
}

TEST(PipelineValidatorTest, ConsumerTuningPropertiesAreAccepted) {
  v1::PipelineConfig c = Valid();
  (*c.mutable_kafka_properties())["fetch.wait.max.ms"] = "50";
  (*c.mutable_kafka_properties())["session.timeout.ms"] = "6000";
  (*c.mutable_kafka_properties())["auto.offset.reset"] = "latest";
  EXPECT_TRUE(ValidatePipelineConfig(c).ok()) << ValidatePipelineConfig(c);
}

v1::PipelineConfig WithJsonField(v1::RoutingKeyForm form) {
  v1::PipelineConfig c = Valid();
  v1::Rollout* r = c.mutable_rollout();
  r->set_flag("kafka-ingest");
  r->set_json_field("project_id");
  r->set_key_form(form);
  r->set_skip(true);
  return c;
}

TEST(PipelineValidatorTest, KeyFormMustBeKnownAndOnlyWithAJsonField) {
  v1::PipelineConfig c = WithJsonField(static_cast<v1::RoutingKeyForm>(9));
  absl::Status s = ValidatePipelineConfig(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "rollout.key_form: unknown value 9");
  c = WithJsonField(v1::ROUTING_KEY_FORM_RAW_JSON);
  EXPECT_TRUE(ValidatePipelineConfig(c).ok());
  c.mutable_rollout()->set_kafka_key(true);
  s = ValidatePipelineConfig(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "rollout.key_form: applies only to a json_field routing key");
}

// Found by fuzz/admin_request_fuzzer: a proto3 enum field carries any number, and an
// unknown payload format was stored (the worker then wrote it as json into jsonb).
TEST(PipelineValidatorTest, UnknownPayloadFormatIsRefused) {
  v1::PipelineConfig c = Valid();
  c.set_payload_format(static_cast<v1::PayloadFormat>(38));
  absl::Status s = ValidatePipelineConfig(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "payload_format: unknown value 38");
  c.set_payload_format(v1::PAYLOAD_FORMAT_BYTES);
  EXPECT_TRUE(ValidatePipelineConfig(c).ok());
}

// Found while writing fuzz/admin_request_fuzzer's bound: TimeUtil's seconds * 1000
// wrapped in int64, so 2^61 + 1 seconds read as 1000 ms and passed the 1h bound.
TEST(PipelineValidatorTest, ConsumerTimeoutBeyondInt64MillisecondsIsRefused) {
  v1::PipelineConfig c = Valid();
  c.mutable_batch()->mutable_consumer_timeout()->set_seconds((int64_t{1} << 61) + 1);
  absl::Status s = ValidatePipelineConfig(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "batch.consumer_timeout: must be at most 1h");
  c.mutable_batch()->mutable_consumer_timeout()->set_seconds(-(int64_t{1} << 61) + 1);
  s = ValidatePipelineConfig(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind("batch.consumer_timeout: must be greater than 0 (got -", 0), 0u)
      << s.message();
  c.mutable_batch()->mutable_consumer_timeout()->set_seconds(3600);
  c.mutable_batch()->mutable_consumer_timeout()->set_nanos(0);
  EXPECT_TRUE(ValidatePipelineConfig(c).ok());
}

// Found by fuzz/admin_request_fuzzer (on flags first): free-form strings with a NUL
// passed validation, and storing the pipeline (jsonb) failed as INTERNAL.
TEST(PipelineValidatorTest, NulBytesInFreeFormStringsAreRefused) {
  ExpectRefused({
      {[](auto* c) { c->set_consumer_group(std::string("g\0", 2)); },
       "consumer_group: must not contain a NUL byte"},
      {[](auto* c) {
         (*c->mutable_kafka_properties())["fetch.wait.max.ms"] = std::string("5\0", 2);
       },
       "kafka_properties[fetch.wait.max.ms]: must not contain a NUL byte"},
      {[](auto* c) { (*c->mutable_kafka_properties())[std::string("fetch\0", 6)] = "5"; },
       "kafka_properties: must not contain a NUL byte"},
      {[](auto* c) {
         c->mutable_rollout()->set_flag("f");
         c->mutable_rollout()->set_json_field(std::string("id\0", 3));
         c->mutable_rollout()->set_skip(true);
       },
       "rollout.json_field: must not contain a NUL byte"},
  });
}

TEST(SettleKeyFormTest, NewPipelinesGetRawJsonUnlessTheyNameAForm) {
  v1::PipelineConfig c = WithJsonField(v1::ROUTING_KEY_FORM_UNSPECIFIED);
  ASSERT_TRUE(SettleKeyForm(nullptr, &c).ok());
  EXPECT_EQ(c.rollout().key_form(), v1::ROUTING_KEY_FORM_RAW_JSON);
  c = WithJsonField(v1::ROUTING_KEY_FORM_MINIFIED);
  ASSERT_TRUE(SettleKeyForm(nullptr, &c).ok());
  EXPECT_EQ(c.rollout().key_form(), v1::ROUTING_KEY_FORM_MINIFIED);
  // A pipeline that gains its json_field now is new to key forms too.
  v1::PipelineConfig stored = Valid();
  c = WithJsonField(v1::ROUTING_KEY_FORM_UNSPECIFIED);
  ASSERT_TRUE(SettleKeyForm(&stored, &c).ok());
  EXPECT_EQ(c.rollout().key_form(), v1::ROUTING_KEY_FORM_RAW_JSON);
  // kafka_key rollouts have no form.
  c = Valid();
  c.mutable_rollout()->set_kafka_key(true);
  ASSERT_TRUE(SettleKeyForm(nullptr, &c).ok());
  EXPECT_EQ(c.rollout().key_form(), v1::ROUTING_KEY_FORM_UNSPECIFIED);
}

TEST(SettleKeyFormTest, StoredPipelinesKeepTheirFormThroughUpdates) {
  // Stored before key forms existed: an update that names no form keeps MINIFIED,
  // written out explicitly.
  const v1::PipelineConfig old_stored = WithJsonField(v1::ROUTING_KEY_FORM_UNSPECIFIED);
  v1::PipelineConfig c = WithJsonField(v1::ROUTING_KEY_FORM_UNSPECIFIED);
  c.mutable_batch()->set_max_rows(500);
  ASSERT_TRUE(SettleKeyForm(&old_stored, &c).ok());
  EXPECT_EQ(c.rollout().key_form(), v1::ROUTING_KEY_FORM_MINIFIED);
  c = WithJsonField(v1::ROUTING_KEY_FORM_MINIFIED);
  EXPECT_TRUE(SettleKeyForm(&old_stored, &c).ok());
  c = WithJsonField(v1::ROUTING_KEY_FORM_RAW_JSON);
  absl::Status s = SettleKeyForm(&old_stored, &c);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "rollout.key_form: pipeline items routes by ROUTING_KEY_FORM_MINIFIED; changing it "
            "would move items between paths, so create a new pipeline for "
            "ROUTING_KEY_FORM_RAW_JSON");
  const v1::PipelineConfig raw_stored = WithJsonField(v1::ROUTING_KEY_FORM_RAW_JSON);
  c = WithJsonField(v1::ROUTING_KEY_FORM_UNSPECIFIED);
  ASSERT_TRUE(SettleKeyForm(&raw_stored, &c).ok());
  EXPECT_EQ(c.rollout().key_form(), v1::ROUTING_KEY_FORM_RAW_JSON);
  c = WithJsonField(v1::ROUTING_KEY_FORM_MINIFIED);
  EXPECT_EQ(SettleKeyForm(&raw_stored, &c).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace sluice::controller

namespace sluice::controller {
namespace {

TEST(PipelineValidatorTest, ColumnsWriteModeAndBadRowTolerance) {
  v1::PipelineConfig ok = Valid();
  v1::ColumnMapping* c = ok.add_columns();
  c->set_column("id");
  c->set_source(v1::COLUMN_SOURCE_KEY);
  c->set_type(v1::COLUMN_TYPE_TEXT);
  ok.set_write_mode(v1::WRITE_MODE_UPSERT);
  ok.add_key_columns("id");
  ok.mutable_bad_rows()->set_mode(v1::BadRowTolerance::MODE_RATE);
  ok.mutable_bad_rows()->set_max_rate(0.01);
  EXPECT_TRUE(ValidatePipelineConfig(ok).ok()) << ValidatePipelineConfig(ok);
  ExpectRefused({
      {[](v1::PipelineConfig* c) { c->add_columns()->set_column("x"); },
       "columns[0].source: unknown value 0"},
      {[](v1::PipelineConfig* c) { c->add_key_columns("id"); },
       "key_columns: apply only to write_mode UPSERT"},
      {[](v1::PipelineConfig* c) {
         c->mutable_bad_rows()->set_mode(static_cast<v1::BadRowTolerance::Mode>(9));
       },
       "bad_rows.mode: unknown value 9"},
      {[](v1::PipelineConfig* c) {
         c->mutable_bad_rows()->set_mode(v1::BadRowTolerance::MODE_RATE);
       },
       "bad_rows.max_rate: must be greater than 0 and at most 1"},
      {[](v1::PipelineConfig* c) {
         c->mutable_bad_rows()->set_mode(v1::BadRowTolerance::MODE_RATE);
         c->mutable_bad_rows()->set_max_rate(std::nan(""));
       },
       "bad_rows.max_rate: must be greater than 0 and at most 1"},
      {[](v1::PipelineConfig* c) {
         c->mutable_bad_rows()->set_mode(v1::BadRowTolerance::MODE_RATE);
         c->mutable_bad_rows()->set_max_rate(0.5);
         c->mutable_bad_rows()->mutable_window()->set_seconds(86401);
       },
       "bad_rows.window: must be from 1s to 24h"},
      {[](v1::PipelineConfig* c) {
         c->mutable_bad_rows()->set_mode(v1::BadRowTolerance::MODE_NONE);
         c->mutable_bad_rows()->set_max_rate(0.5);
       },
       "bad_rows: max_rate and window apply only to mode RATE"},
  });
}

}  // namespace
}  // namespace sluice::controller
