// The controller's cached state against its database (issue 10, "Liveness and
// restarts"): /ready means "database reachable and state loaded", a write made
// through another controller reaches this one's workers without a write here, and
// a lost database is retried until the state loads again.
#include <signal.h>

#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/control_plane_test_base.h"

namespace sluice::testing {
namespace {

class ControllerStateTest : public ControlPlaneTest {};

// The controller's /ready answered 200 whatever happened to its database.
TEST_F(ControllerStateTest, ReadyMeansTheDatabaseAnswersAndTheStateIsLoaded) {
  const int port = controller_->metrics_port();
  ASSERT_EQ(HttpGet(port, "/ready"), "200 ready\n");
  PgDatabase admin = db_;
  admin.dbname = "postgres";
  admin.Exec(absl::StrCat("ALTER DATABASE ", db_.dbname, " ALLOW_CONNECTIONS false"));
  admin.Exec(
      absl::StrCat("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '",
                   db_.dbname, "' AND application_name = 'sluice-controller'"));
  std::string ready;
  EXPECT_TRUE(WaitFor(
      [&] {
        ready = HttpGet(port, "/ready");
        return absl::StartsWith(ready, "503");
      },
      absl::Seconds(20)))
      << ready;
  EXPECT_TRUE(absl::StrContains(ready, "controller state may be stale since")) << ready;
  admin.Exec(absl::StrCat("ALTER DATABASE ", db_.dbname, " ALLOW_CONNECTIONS true"));
  EXPECT_TRUE(WaitFor([&] { return HttpGet(port, "/ready") == "200 ready\n"; }, absl::Seconds(30)));
}

// Nothing reloaded the state but this controller's own writes: a pipeline created
// through another controller on the same database never reached this one's
// workers. With replicas, writes go to the leader; a follower polls the stored
// revision (every 5 s) and loads a change, so its reads and the day it leads see
// the leader's writes; a write sent through it reaches the leader's workers
// (sluicectl follows the follower's refusal).
TEST_F(ControllerStateTest, AWriteThroughAnotherControllerReachesThisOnesWorkers) {
  auto w = Worker("w1");
  absl::StatusOr<std::unique_ptr<ControllerProcess>> other = ControllerProcess::Start(
      db_, {"--stats-interval", "1s", "--worker-lease", "3s", "--flag-lead", "2s"});
  ASSERT_TRUE(other.ok()) << other.status();
  const std::string follower_first = absl::StrCat((*other)->address(), ",", controller_->address());
  CtlResult created =
      Sluicectl(follower_first, {"pipelines", "create", "items", "--topics", "items",
                                 "--create-table", "--kafka-property", "fetch.wait.max.ms=50"});
  ASSERT_EQ(created.code, 0) << created.output;
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)))
      << "the worker of this controller never got the pipeline";
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 2000)).ok());
  ExpectExactlyOnce(2000);
  // The follower loaded it (reads of the stored state are its own).
  ASSERT_EQ(Sluicectl(controller_->address(), {"pipelines", "pause", "items"}).code, 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        CtlResult got = Sluicectl((*other)->address(), {"--json", "pipelines", "get", "items"});
        return got.code == 0 && absl::StrContains(got.output, "\"paused\": true");
      },
      absl::Seconds(15)));
}

// One database connection, locked for every transaction, with no statement
// timeout: a call stuck on a lock stalled every admin call behind it, and itself
// forever. Now calls run on a pool and a lock wait ends after lock_timeout (5 s)
// with UNAVAILABLE.
TEST_F(ControllerStateTest, ACallStuckOnALockNeitherHangsNorStallsTheOthers) {
  PgDatabase::Session holder = db_.OpenSession();
  ASSERT_EQ(holder.Exec("BEGIN"), "");
  ASSERT_EQ(holder.Exec("LOCK TABLE sluice_controller.flags IN ACCESS EXCLUSIVE MODE"), "");
  CtlResult stuck;
  const absl::Time start = absl::Now();
  absl::Time stuck_ended;
  std::thread writer([&] {
    stuck = Ctl({"flags", "create", "kafka-ingest"});
    stuck_ended = absl::Now();
  });
  absl::SleepFor(absl::Milliseconds(500));  // the create now waits for the lock
  const absl::Time before_list = absl::Now();
  CtlResult list = Ctl({"pipelines", "list"});
  const absl::Duration list_took = absl::Now() - before_list;
  writer.join();
  ASSERT_EQ(holder.Exec("ROLLBACK"), "");
  EXPECT_EQ(list.code, 0) << list.output;
  EXPECT_LT(list_took, absl::Seconds(3)) << "the list waited behind the stuck call";
  EXPECT_LT(stuck_ended, start + absl::Seconds(15)) << "the stuck call hung";
  EXPECT_EQ(stuck.code, 1) << stuck.output;
  EXPECT_TRUE(absl::StrContains(stuck.output, "UNAVAILABLE")) << stuck.output;
  EXPECT_TRUE(absl::StrContains(stuck.output, "lock timeout")) << stuck.output;
  // Nothing was written; it works once the lock is gone.
  EXPECT_EQ(Ctl({"flags", "create", "kafka-ingest"}).code, 0);
}

// Issue 10: after a controller restart, each reconnecting worker was assigned over
// the workers connected so far: the first took every pipeline, and they moved
// again as the others came back. The workers known before the restart now keep
// their pipelines for a lease while they reconnect: nothing is pushed.
TEST_F(ControllerStateTest, ARestartMovesNoPipeline) {
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (const char* id : {"w1", "w2", "w3"}) workers.push_back(Worker(id));
  const std::vector<std::string> names = {"p0", "p1", "p2", "p3", "p4", "p5"};
  for (size_t i = 0; i < names.size(); ++i) {
    CtlResult r = Ctl({"pipelines", "create", names[i], "--topics", "items", "--group",
                       absl::StrCat("g", i), "--table", absl::StrCat("t", i), "--create-table",
                       "--kafka-property", "fetch.wait.max.ms=50"});
    ASSERT_EQ(r.code, 0) << r.output;
  }
  std::map<std::string, std::string> holder;
  for (const std::string& name : names) {
    ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere(name, 1, 1); }, absl::Seconds(30)));
    holder[name] =
        CtlJson<v1::PipelineStatus>({"pipelines", "status", name}).workers(0).worker_id();
  }
  std::set<std::string> holders;
  for (const auto& [name, id] : holder) holders.insert(id);
  ASSERT_GT(holders.size(), 1u) << "all pipelines on one worker: the test shows nothing";

  // What each worker logged before the restart (pipelines may have moved while
  // the workers first connected one by one).
  std::vector<size_t> logged_before;
  for (const auto& w : workers) logged_before.push_back(w->process().ReadLog().size());
  controller_->process().Signal(SIGKILL);
  ASSERT_TRUE(controller_->process().Wait(absl::Seconds(10)).has_value());
  ASSERT_TRUE(controller_->Restart().ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::ListWorkersResponse r = CtlJson<v1::ListWorkersResponse>({"workers", "list"});
        int connected = 0;
        for (const v1::WorkerInfo& w : r.workers()) connected += w.connected();
        return connected == 3;
      },
      absl::Seconds(30)));
  absl::SleepFor(absl::Seconds(4));  // past the 3 s lease: nothing left to settle
  EXPECT_EQ(ScrapeMetric(controller_->metrics_port(), "sluice_controller_pushes_total"), 0);
  for (const std::string& name : names) {
    v1::PipelineStatus s = CtlJson<v1::PipelineStatus>({"pipelines", "status", name});
    ASSERT_EQ(s.workers_size(), 1) << name;
    EXPECT_EQ(s.workers(0).worker_id(), holder[name]) << name;
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    const std::string since_restart = workers[i]->process().ReadLog().substr(logged_before[i]);
    EXPECT_FALSE(absl::StrContains(since_restart, "stopped pipeline")) << since_restart;
    EXPECT_FALSE(absl::StrContains(since_restart, "started pipeline")) << since_restart;
  }
}

}  // namespace
}  // namespace sluice::testing
