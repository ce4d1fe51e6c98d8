#include "worker/pipeline_manager.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

v1::PipelineConfig Config(const std::string& name) {
  v1::PipelineConfig c;
  c.set_name(name);
  c.add_topics("items");
  c.set_consumer_group("g");
  c.mutable_batch()->set_max_rows(10);
  return c;
}

TEST(OnlyLimitsDifferTest, BatchLimitsAreLiveEverythingElseRestarts) {
  v1::PipelineConfig a = Config("p");
  v1::PipelineConfig b = a;
  b.mutable_batch()->set_max_rows(20);
  b.mutable_batch()->mutable_consumer_timeout()->set_seconds(3);
  b.set_desired_workers(4);
  EXPECT_TRUE(OnlyLimitsDiffer(a, b));
  b.add_topics("more");
  EXPECT_FALSE(OnlyLimitsDiffer(a, b));
  v1::PipelineConfig c = a;
  c.mutable_target()->set_table("other");
  EXPECT_FALSE(OnlyLimitsDiffer(a, c));
}

// Runners need Kafka and PostgreSQL; here the factory refuses, which exercises
// the NACK path without them.
TEST(PipelineManagerTest, RefusedPipelinesAreReportedAndNotRun) {
  int calls = 0;
  PipelineManager manager([&](const v1::PipelineConfig& c, uint64_t,
                              std::shared_ptr<const flags::FlagSchedule>) {
    ++calls;
    return absl::StatusOr<std::unique_ptr<PipelineRunner>>(
        absl::FailedPreconditionError("table " + c.name() + " does not exist"));
  });
  v1::Assignment a;
  v1::AssignedPipeline* p = a.add_pipelines();
  *p->mutable_config() = Config("p");
  p->set_version(4);
  v1::AssignedPipeline* paused = a.add_pipelines();
  *paused->mutable_config() = Config("q");
  paused->set_paused(true);
  std::vector<v1::PipelineError> errors = manager.Apply(a);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].pipeline(), "p");
  EXPECT_EQ(errors[0].pipeline_version(), 4u);
  EXPECT_EQ(errors[0].error_detail(), "table p does not exist");
  EXPECT_EQ(calls, 1);  // the paused pipeline is not started
  EXPECT_TRUE(manager.RunningPipelines().empty());
  EXPECT_TRUE(manager.Ready().ok());
}

}  // namespace
}  // namespace sluice::worker
