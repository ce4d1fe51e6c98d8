// A worker that stops answering without closing its connection (issue 10,
// "Liveness and restarts"): the controller notices by the missing stats and its
// keepalive pings, ends the stream, and the worker's pipelines move once its lease
// expires. SIGSTOP makes such a worker: the process holds its TCP connections open
// (the kernel still acknowledges) but sends and answers nothing.
#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/control_plane_test_base.h"

namespace sluice::testing {
namespace {

class WorkerLivenessTest : public ControlPlaneTest {};

TEST_F(WorkerLivenessTest, AHungWorkersPipelineMovesAfterSilenceAndLeaseExactlyOnce) {
  auto w1 = Worker("w1");
  auto w2 = Worker("w2");
  CreateItems({"--desired-workers", "1"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  const std::string holder =
      CtlJson<v1::PipelineStatus>({"pipelines", "status", "items"}).workers(0).worker_id();
  WorkerProcess* hung = holder == "w1" ? w1.get() : w2.get();
  const std::string other = holder == "w1" ? "w2" : "w1";
  ASSERT_TRUE(WaitFor([&] { return hung->HttpGet("/ready") == "200 ready\n"; }, absl::Seconds(60)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 3000)).ok());
  ASSERT_TRUE(WaitFor([&] { return TablesExist() && Landed() == 3000; }, absl::Seconds(60)));

  hung->process().Signal(SIGSTOP);
  // Stats every 1 s here: silent for 3 s ends the stream, a 3 s lease moves the
  // pipeline. Before issue 10 the stream stayed open and nothing moved.
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::PipelineStatus s = CtlJson<v1::PipelineStatus>({"pipelines", "status", "items"});
        return s.workers_size() == 1 && s.workers(0).worker_id() == other &&
               s.workers(0).applied_version() == 1;
      },
      absl::Seconds(30)))
      << "the pipeline did not move off the hung worker";
  EXPECT_TRUE(absl::StrContains(controller_->process().ReadLog(),
                                absl::StrCat("worker ", holder, " sent nothing for ")));
  ASSERT_TRUE(kafka_->Produce("items", Items(3000, 3000)).ok());
  ASSERT_TRUE(WaitFor([&] { return Landed() == 6000; }, absl::Seconds(90)))
      << "the other worker did not take the partitions";

  // The hung worker wakes: it reconnects, gets nothing to run, and nothing is
  // written twice.
  hung->process().Signal(SIGCONT);
  ASSERT_TRUE(kafka_->Produce("items", Items(6000, 3000)).ok());
  ExpectExactlyOnce(9000);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::optional<v1::WorkerInfo> info = TryCtlJson<v1::WorkerInfo>({"workers", "get", holder});
        return info.has_value() && info->connected();
      },
      absl::Seconds(30)));
}

}  // namespace
}  // namespace sluice::testing
