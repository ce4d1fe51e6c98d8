#include <google/protobuf/util/json_util.h>

#include "controller/state_store.h"
#include "gtest/gtest.h"

namespace sluice::controller {
namespace {

// The stored form of a pipeline (the config column) keeps the key form, by name,
// and a config stored before key forms existed reads back as UNSPECIFIED.
TEST(StateStoreJsonTest, KeyFormSurvivesTheStoredJson) {
  v1::PipelineConfig c;
  c.set_name("items");
  c.mutable_rollout()->set_flag("kafka-ingest");
  c.mutable_rollout()->set_json_field("project_id");
  c.mutable_rollout()->set_key_form(v1::ROUTING_KEY_FORM_RAW_JSON);
  const std::string json = ConfigToJson(c);
  EXPECT_NE(json.find("\"key_form\":\"ROUTING_KEY_FORM_RAW_JSON\""), std::string::npos) << json;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  v1::PipelineConfig back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back, options).ok());
  EXPECT_EQ(back.rollout().key_form(), v1::ROUTING_KEY_FORM_RAW_JSON);
  v1::PipelineConfig old;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"name":"items","rollout":{"flag":"f","json_field":"project_id","skip":true}})",
                  &old, options)
                  .ok());
  EXPECT_EQ(old.rollout().key_form(), v1::ROUTING_KEY_FORM_UNSPECIFIED);
}

}  // namespace
}  // namespace sluice::controller
