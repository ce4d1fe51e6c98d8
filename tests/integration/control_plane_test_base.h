// Shared setup of the control-plane tests: a controller over the test database,
// workers in controller mode, and sluicectl (text and --json).
#ifndef SLUICE_TESTS_INTEGRATION_CONTROL_PLANE_TEST_BASE_H_
#define SLUICE_TESTS_INTEGRATION_CONTROL_PLANE_TEST_BASE_H_

#include <google/protobuf/util/json_util.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "sluice/v1/admin.pb.h"
#include "tests/fixtures/controller_process.h"
#include "tests/integration/worker_test_base.h"

namespace sluice::testing {

// Rollout tests' items: keyed by one of kProjects projects, with a sequence number.
constexpr int kProjects = 120;

inline DevKafka::Record Item(int seq, absl::Time timestamp) {
  const int project = seq % kProjects;
  return {absl::StrCat("p", project),
          absl::StrCat("{\"project_id\":", project, ",\"seq\":", seq, "}"), timestamp};
}

class ControlPlaneTest : public WorkerExactlyOnceTest {
 protected:
  void SetUp() override {
    WorkerExactlyOnceTest::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<std::unique_ptr<ControllerProcess>> c =
        ControllerProcess::Start(db_, ControllerArgs());
    ASSERT_TRUE(c.ok()) << c.status();
    controller_ = std::move(*c);
  }

  // The flags every controller of the test runs with.
  std::vector<std::string> ControllerArgs() const {
    std::vector<std::string> args = {
        "--stats-interval",      "1s",
        "--worker-lease",        "3s",
        "--flag-lead",           absl::FormatDuration(flag_lead_),
        "--schedule-hold-limit", absl::FormatDuration(schedule_hold_limit_)};
    for (std::string& a : ExtraControllerArgs()) args.push_back(std::move(a));
    return args;
  }
  // What a test adds to every controller it starts.
  virtual std::vector<std::string> ExtraControllerArgs() const { return {}; }

  std::unique_ptr<WorkerProcess> Worker(const std::string& id, std::vector<std::string> extra = {}) {
    absl::StatusOr<std::unique_ptr<WorkerProcess>> w = WorkerProcess::StartControlled(
        {kafka_->bootstrap(), controller_->address(), id, db_, std::move(extra)});
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? std::move(*w) : nullptr;
  }

  // Sets flag `flag` to `percent` `in` from now (sluicectl flags set); returns the
  // flag as it then is.
  v1::Flag SetFlag(const std::string& flag, const std::string& percent, const std::string& in,
                   uint64_t expected_version) {
    CtlResult r = Ctl({"--json", "flags", "set", flag, "--percent", percent, "--in", in,
                       "--expected-version", absl::StrCat(expected_version)});
    EXPECT_EQ(r.code, 0) << r.output;
    v1::Flag f;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.output, &f).ok()) << r.output;
    return f;
  }

  CtlResult Ctl(const std::vector<std::string>& args) {
    return Sluicectl(ctl_address_.empty() ? controller_->address() : ctl_address_, args);
  }

  // sluicectl --json ARGS parsed into M; nullopt if it failed.
  template <typename M>
  std::optional<M> TryCtlJson(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    CtlResult r = Ctl(args);
    M m;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    if (r.code != 0 || !google::protobuf::util::JsonStringToMessage(r.output, &m, options).ok()) {
      return std::nullopt;
    }
    return m;
  }

  // As TryCtlJson, failing the test if the command fails.
  template <typename M>
  M CtlJson(std::vector<std::string> args) {
    std::optional<M> m = TryCtlJson<M>(args);
    EXPECT_TRUE(m.has_value()) << absl::StrJoin(args, " ") << " failed";
    return m.value_or(M());
  }

  // Every assigned worker has applied `version` of the pipeline (ACKed).
  bool AppliedEverywhere(const std::string& pipeline, uint64_t version, int workers) {
    v1::PipelineStatus s = CtlJson<v1::PipelineStatus>({"pipelines", "status", pipeline});
    int applied = 0;
    for (const v1::PipelineWorkerStatus& w : s.workers()) {
      if (w.applied_version() == version && w.nack_error().empty()) ++applied;
    }
    return applied == workers;
  }

  void CreateItems(std::vector<std::string> extra = {}) {
    // The dev broker (librdkafka's mock) applies a LeaveGroup only when the member's
    // session expires; a short session bounds how long a restarted or drained
    // consumer's partitions wait.
    std::vector<std::string> args = {"pipelines", "create", "items", "--topics", "items",
                                     "--create-table", "--consumer-timeout", "0.15",
                                     "--kafka-property", "fetch.wait.max.ms=50",
                                     "--kafka-property", "session.timeout.ms=6000",
                                     "--kafka-property", "heartbeat.interval.ms=500"};
    args.insert(args.end(), extra.begin(), extra.end());
    CtlResult r = Ctl(args);
    ASSERT_EQ(r.code, 0) << r.output;
  }

  std::unique_ptr<ControllerProcess> controller_;
  // Where Ctl() sends sluicectl ("": controller_).
  std::string ctl_address_;
  // Short in tests; 30 s by default.
  absl::Duration flag_lead_ = absl::Seconds(2);
  // Long in tests: a loaded machine may stall the horizon for seconds, and items
  // it holds must not go to dead letters unless a test means them to.
  absl::Duration schedule_hold_limit_ = absl::Seconds(60);
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_INTEGRATION_CONTROL_PLANE_TEST_BASE_H_
