#include "controller/pipeline_validator.h"

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
  struct Case {
    std::function<void(v1::PipelineConfig*)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
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
      {[](auto* c) { c->mutable_batch()->set_max_rows(2000000); },
       "batch.max_rows: must be at most 1000000"},
      {[](auto* c) { c->set_desired_workers(1000); }, "desired_workers: must be at most 256"},
      {[](auto* c) { (*c->mutable_kafka_properties())["group.id"] = "x"; },
       "kafka_properties[group.id]: is set by Sluice and cannot be overridden"},
  };
  for (const Case& k : cases) {
    v1::PipelineConfig c = Valid();
    k.mutate(&c);
    absl::Status s = ValidatePipelineConfig(c);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << k.message;
    EXPECT_EQ(s.message(), k.message);
  }
}

}  // namespace
}  // namespace sluice::controller
