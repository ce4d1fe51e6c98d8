#include "worker/pipeline_manager.h"

#include <thread>

#include "common/proto_time.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_pipeline.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::worker {
namespace {

using ::sluice::testing::FakePipeline;
using ::sluice::testing::ManualClock;
using ::sluice::testing::PipelineLog;

v1::PipelineConfig Config(const std::string& name, const std::string& table = "raw_items") {
  v1::PipelineConfig c;
  c.set_name(name);
  c.add_topics("items");
  c.set_consumer_group("g");
  c.mutable_target()->set_table(table);
  c.mutable_batch()->set_max_rows(10);
  return c;
}

v1::Assignment Assign(const v1::PipelineConfig& config, uint64_t version) {
  v1::Assignment a;
  v1::AssignedPipeline* p = a.add_pipelines();
  *p->mutable_config() = config;
  p->set_version(version);
  return a;
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

class PipelineManagerTest : public ::testing::Test {
 protected:
  PipelineManagerTest()
      : manager_(
            [this](const v1::PipelineConfig& c, uint64_t v,
                   std::shared_ptr<const flags::FlagSchedule>)
                -> absl::StatusOr<std::unique_ptr<Pipeline>> {
              log_.Add("prepare " + c.name() + " v" + std::to_string(v));
              if (c.target().table() == "missing") {
                return absl::FailedPreconditionError("table missing does not exist");
              }
              if (!fail_next_.ok()) {
                absl::Status s = fail_next_;
                fail_next_ = absl::OkStatus();
                return s;
              }
              auto p = std::make_unique<FakePipeline>(c, v, &log_);
              last_ = p.get();
              return std::unique_ptr<Pipeline>(std::move(p));
            },
            &clock_, PipelineManagerOptions{absl::Seconds(1), absl::Seconds(8)}) {}

  ManualClock clock_;
  PipelineLog log_;
  FakePipeline* last_ = nullptr;
  absl::Status fail_next_ = absl::OkStatus();
  PipelineManager manager_;
};

TEST_F(PipelineManagerTest, RefusedPipelinesAreReportedAndNotRun) {
  v1::Assignment a = Assign(Config("p", "missing"), 4);
  v1::AssignedPipeline* paused = a.add_pipelines();
  *paused->mutable_config() = Config("q");
  paused->set_paused(true);
  std::vector<v1::PipelineError> errors = manager_.Apply(a);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].pipeline(), "p");
  EXPECT_EQ(errors[0].pipeline_version(), 4u);
  EXPECT_EQ(errors[0].error_detail(), "table missing does not exist");
  EXPECT_EQ(log_.events(), std::vector<std::string>{"prepare p v4"});  // q is paused
  EXPECT_TRUE(manager_.RunningPipelines().empty());
  EXPECT_TRUE(manager_.Ready().ok());
}

// Issue 8: a pipeline's kafka properties reach every worker it is assigned to, and
// sasl.kerberos.kinit.cmd made each of them run a command. The controller no
// longer pushes such a pipeline; should one arrive anyway (an older or a rogue
// controller), the worker refuses it before anything is built from it, and the
// version it runs keeps running.
TEST_F(PipelineManagerTest, APushedForbiddenKafkaPropertyIsNackedAndNeverApplied) {
  ASSERT_TRUE(manager_.Apply(Assign(Config("p"), 1)).empty());
  v1::PipelineConfig bad = Config("p");
  (*bad.mutable_kafka_properties())["security.protocol"] = "SASL_PLAINTEXT";
  (*bad.mutable_kafka_properties())["sasl.mechanisms"] = "GSSAPI";
  (*bad.mutable_kafka_properties())["sasl.kerberos.kinit.cmd"] = "touch /tmp/pwned";
  v1::PipelineConfig plugin = Config("q");
  (*plugin.mutable_kafka_properties())["plugin.library.paths"] = "/tmp/evil.so";
  v1::Assignment a = Assign(bad, 2);
  v1::AssignedPipeline* q = a.add_pipelines();
  *q->mutable_config() = plugin;
  q->set_version(7);
  std::vector<v1::PipelineError> errors = manager_.Apply(a);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].pipeline(), "p");
  EXPECT_EQ(errors[0].pipeline_version(), 2u);
  EXPECT_EQ(errors[0].error_detail(),
            "kafka_properties: 'sasl.kerberos.kinit.cmd' is not allowed in a pipeline (it runs "
            "a command on every worker)");
  EXPECT_EQ(errors[1].pipeline(), "q");
  EXPECT_EQ(errors[1].error_detail(),
            "kafka_properties: 'plugin.library.paths' is not allowed in a pipeline (it loads a "
            "shared library on every worker)");
  // Nothing was prepared from either; p v1 runs on untouched.
  EXPECT_EQ(log_.events(), (std::vector<std::string>{"prepare p v1", "launch p v1"}));
  EXPECT_EQ(manager_.RunningPipelines(), std::vector<std::string>{"p"});
  EXPECT_EQ(last_->version(), 1u);
}

// A config from a newer controller sets a field this build does not know (here
// number 999 of a column mapping): running it without that field would do
// something else than asked, so it is NACKed and the running version stays.
TEST_F(PipelineManagerTest, AConfigWithAFieldThisBuildDoesNotKnowIsNacked) {
  ASSERT_TRUE(manager_.Apply(Assign(Config("p"), 1)).empty());
  v1::PipelineConfig newer = Config("p");
  v1::ColumnMapping* c = newer.add_columns();
  c->set_column("id");
  c->GetReflection()->MutableUnknownFields(c)->AddVarint(999, 1);
  std::vector<v1::PipelineError> errors = manager_.Apply(Assign(newer, 2));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].error_detail(),
            "the config sets field columns[0].#999, which this worker build does not know; "
            "upgrade the worker");
  EXPECT_EQ(log_.events(), (std::vector<std::string>{"prepare p v1", "launch p v1"}));
  EXPECT_EQ(last_->version(), 1u);
}

// Regression (issue 7.11): every NACK retry stopped the healthy last-good runner,
// tried the new version, and started the old one again (a consumer-group
// rebalance every --nack-retry-interval; and if that restart failed, the pipeline
// was gone). The new version is now checked while the old one keeps running.
TEST_F(PipelineManagerTest, ANackedVersionNeverTouchesTheRunningOne) {
  ASSERT_TRUE(manager_.Apply(Assign(Config("p"), 1)).empty());
  for (int retry = 0; retry < 3; ++retry) {
    std::vector<v1::PipelineError> errors = manager_.Apply(Assign(Config("p", "missing"), 2));
    ASSERT_EQ(errors.size(), 1u);
  }
  EXPECT_EQ(log_.events(), (std::vector<std::string>{"prepare p v1", "launch p v1", "prepare p v2",
                                                     "prepare p v2", "prepare p v2"}));
  // Once the table exists the new version replaces the old: stop first, then launch.
  ASSERT_TRUE(manager_.Apply(Assign(Config("p", "fixed"), 2)).empty());
  EXPECT_EQ(log_.events().back(), "launch p v2");
  EXPECT_EQ(log_.events()[log_.events().size() - 2], "stop p v1");
  EXPECT_EQ(log_.events()[log_.events().size() - 3], "prepare p v2");
}

TEST_F(PipelineManagerTest, LimitsAreAppliedLiveAndRemovedPipelinesStop) {
  ASSERT_TRUE(manager_.Apply(Assign(Config("p"), 1)).empty());
  v1::PipelineConfig bigger = Config("p");
  bigger.mutable_batch()->set_max_rows(20);
  ASSERT_TRUE(manager_.Apply(Assign(bigger, 2)).empty());
  ASSERT_TRUE(manager_.Apply(v1::Assignment()).empty());
  EXPECT_EQ(log_.events(), (std::vector<std::string>{"prepare p v1", "launch p v1",
                                                     "update p v2", "stop p v2"}));
  // The stopped pipeline's last deltas are reported once.
  std::vector<v1::PipelineStats> stats = manager_.TakeStats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].pipeline(), "p");
  EXPECT_TRUE(manager_.TakeStats().empty());
}

// Issue 7.11: a pipeline whose loop exited (a fatal Kafka error) was never
// restarted. It now restarts with backoff, and says so meanwhile.
TEST_F(PipelineManagerTest, APipelineWhoseLoopEndedIsRestartedWithBackoff) {
  ASSERT_TRUE(manager_.Apply(Assign(Config("p"), 3)).empty());
  last_->Exit(absl::UnavailableError("kafka: fatal error"));
  std::vector<v1::PipelineStats> stats = manager_.TakeStats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].problem(), "stopped (kafka: fatal error); restarting in 1s");
  EXPECT_EQ(manager_.Ready().message(), "p: stopped (kafka: fatal error); restarting in 1s");
  clock_.Advance(absl::Seconds(1));
  fail_next_ = absl::UnavailableError("brokers unreachable");
  stats = manager_.TakeStats();
  EXPECT_EQ(stats[0].problem(),
            "stopped (kafka: fatal error); restart failed (brokers unreachable); next attempt "
            "in 2s");
  clock_.Advance(absl::Seconds(2));
  stats = manager_.TakeStats();
  EXPECT_EQ(stats.size(), 2u);  // the ended one's last deltas, and the new one's
  EXPECT_TRUE(manager_.Ready().ok());
  EXPECT_EQ(log_.events(),
            (std::vector<std::string>{"prepare p v3", "launch p v3", "prepare p v3",
                                      "prepare p v3", "stop p v3", "launch p v3"}));
}

// Regression (issue 7.9): the manager held its mutex while a pipeline stopped
// (up to the shutdown timeout), blocking /ready and the stats of the others.
TEST_F(PipelineManagerTest, ReadyAndStatsAnswerWhileAPipelineStops) {
  ASSERT_TRUE(manager_.Apply(Assign(Config("p"), 1)).empty());
  bool answered = false;
  last_->OnStop([&] {
    std::thread other([&] {
      (void)manager_.Ready();
      (void)manager_.TakeStats();
      answered = true;
    });
    other.join();  // would deadlock if Stop() ran under the manager's lock
  });
  ASSERT_TRUE(manager_.Apply(v1::Assignment()).empty());
  EXPECT_TRUE(answered);
}

TEST_F(PipelineManagerTest, AProblemOfAPipelineIsInItsStats) {
  ASSERT_TRUE(manager_.Apply(Assign(Config("p"), 1)).empty());
  last_->SetReady(absl::UnavailableError("partition items/0 stalled: beyond the end"));
  std::vector<v1::PipelineStats> stats = manager_.TakeStats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].problem(), "partition items/0 stalled: beyond the end");
  last_->SetReady(absl::UnavailableError("no Kafka partitions assigned"));
  EXPECT_EQ(manager_.TakeStats()[0].problem(), "");  // normal with more members than partitions
}

}  // namespace
}  // namespace sluice::worker

namespace sluice::worker {
namespace {

// Issue 10: the controller's schedule horizon reaches each running pipeline whose
// rollout flag it lists (the router then checks the version it holds).
TEST_F(PipelineManagerTest, TheScheduleHorizonReachesThePipelinesOfTheFlagsItLists) {
  v1::PipelineConfig routed = Config("routed");
  routed.mutable_rollout()->set_flag("f");
  v1::Assignment a = Assign(routed, 1);
  v1::Flag* f = a.add_flags();
  f->set_name("f");
  f->set_version(2);
  ASSERT_TRUE(manager_.Apply(a).empty());
  FakePipeline* pipeline = last_;
  ASSERT_NE(pipeline, nullptr);
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  v1::ScheduleHorizon other;
  *other.mutable_known_until() = ToProtoTimestamp(t);
  v1::FlagVersion* o = other.add_flags();
  o->set_name("g");
  o->set_version(9);
  manager_.ExtendScheduleHorizon(other);
  EXPECT_TRUE(pipeline->horizons().empty()) << "not its flag";
  v1::ScheduleHorizon mine = other;
  mine.mutable_flags(0)->set_name("f");
  mine.mutable_flags(0)->set_version(2);
  manager_.ExtendScheduleHorizon(mine);
  ASSERT_EQ(pipeline->horizons().size(), 1u);
  EXPECT_EQ(pipeline->horizons()[0], std::make_pair(uint64_t{2}, t));

  // Found by review: a pipeline started later (a new version, a restart) got no
  // horizon until it next moved, and held every item meanwhile. It gets the last
  // one before it starts.
  routed.mutable_target()->set_table("other");
  v1::Assignment next = a;
  *next.mutable_pipelines(0)->mutable_config() = routed;
  next.mutable_pipelines(0)->set_version(2);
  ASSERT_TRUE(manager_.Apply(next).empty());
  ASSERT_NE(last_, pipeline);
  ASSERT_EQ(last_->horizons().size(), 1u);
  EXPECT_EQ(last_->horizons()[0], std::make_pair(uint64_t{2}, t));
}

}  // namespace
}  // namespace sluice::worker
