// Issue 10, high availability: several sluice-controller replicas on one
// PostgreSQL. The replica holding the leader lock serves the workers and admin
// writes; the others answer reads and name it; when it dies a follower leads
// within seconds, and workers and sluicectl follow with nothing lost.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/controller_addresses.h"
#include "flags/flag_client.h"
#include "gtest/gtest.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "tests/fixtures/controller_process.h"
#include "tests/integration/control_plane_test_base.h"

namespace sluice::testing {
namespace {

class ControllerFailoverTest : public ControlPlaneTest {
 protected:
  void SetUp() override {
    ControlPlaneTest::SetUp();
    if (HasFatalFailure()) return;
    // Started second: it follows the first.
    absl::StatusOr<std::unique_ptr<ControllerProcess>> c =
        ControllerProcess::Start(db_, ControllerArgs());
    ASSERT_TRUE(c.ok()) << c.status();
    standby_ = std::move(*c);
    both_ = absl::StrCat(controller_->address(), ",", standby_->address());
    ctl_address_ = both_;
  }

  std::string LeaderEndpoint(const ControllerProcess& c) {
    return HttpGet(c.metrics_port(), "/leader");
  }

  std::unique_ptr<ControllerProcess> standby_;
  // Both replicas, the first leading at the start.
  std::string both_;
};

TEST_F(ControllerFailoverTest, AFollowerAnswersReadsAndNamesTheLeaderForTheRest) {
  EXPECT_EQ(LeaderEndpoint(*controller_),
            absl::StrCat("200 leader ", controller_->address(), "\n"));
  EXPECT_EQ(LeaderEndpoint(*standby_),
            absl::StrCat("503 follower; the leader is ", controller_->address(), "\n"));
  EXPECT_EQ(ScrapeMetric(controller_->metrics_port(), "sluice_controller_leader "), 1);
  EXPECT_EQ(ScrapeMetric(standby_->metrics_port(), "sluice_controller_leader "), 0);
  // /ready means "database reachable and state loaded", on both: a follower stays
  // in a load balancer's pool for reads.
  EXPECT_EQ(HttpGet(standby_->metrics_port(), "/ready"), "200 ready\n");

  CreateItems();
  // Reads of the stored state: any replica.
  CtlResult list = Sluicectl(standby_->address(), {"pipelines", "list"});
  EXPECT_EQ(list.code, 0) << list.output;
  EXPECT_TRUE(absl::StrContains(list.output, "items")) << list.output;
  // A write sent to the follower is refused before it does anything, naming the
  // leader in the message and in the trailing metadata clients follow; so is a
  // read of what only the leader knows (the workers).
  auto admin = v1::Admin::NewStub(
      grpc::CreateChannel(standby_->address(), grpc::InsecureChannelCredentials()));
  for (bool write : {true, false}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::PausePipelineRequest pause;
    pause.set_name("items");
    v1::Pipeline pipeline;
    v1::ListWorkersResponse workers;
    const grpc::Status s = write ? admin->PausePipeline(&ctx, pause, &pipeline)
                                 : admin->ListWorkers(&ctx, {}, &workers);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(s.error_message(), absl::StrCat("this controller (", standby_->address(),
                                              ") follows; the leader is ", controller_->address()));
    auto hint = ctx.GetServerTrailingMetadata().find(kLeaderMetadataKey);
    ASSERT_NE(hint, ctx.GetServerTrailingMetadata().end());
    EXPECT_EQ(std::string(hint->second.data(), hint->second.size()), controller_->address());
  }
  EXPECT_FALSE(CtlJson<v1::Pipeline>({"pipelines", "get", "items"}).paused());
  // sluicectl given the follower alone follows it to the leader.
  CtlResult paused = Sluicectl(standby_->address(), {"pipelines", "pause", "items"});
  EXPECT_EQ(paused.code, 0) << paused.output;
  EXPECT_EQ(Sluicectl(standby_->address(), {"workers", "list"}).code, 0);
  const std::string follower_first = absl::StrCat(standby_->address(), ",", controller_->address());
  EXPECT_EQ(Sluicectl(follower_first, {"pipelines", "resume", "items"}).code, 0);
  // A worker given the follower first is served by the leader.
  absl::StatusOr<std::unique_ptr<WorkerProcess>> w =
      WorkerProcess::StartControlled({kafka_->bootstrap(), follower_first, "w1", db_, {}});
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(WaitFor(
      [&] {
        std::optional<v1::WorkerInfo> info = TryCtlJson<v1::WorkerInfo>({"workers", "get", "w1"});
        return info.has_value() && info->connected();
      },
      absl::Seconds(30)));
}

// The test: kill -9 the leader while sluicectl writes and workers ingest.
// A follower leads within 5 s, no acknowledged admin write is lost, the workers
// reconnect to it within their lease (so no pipeline moves: it pushes nothing),
// and no item is lost or duplicated.
TEST_F(ControllerFailoverTest, KillingTheLeaderHandsOverWithinSecondsAndLosesNothing) {
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (const char* id : {"w1", "w2"}) {
    absl::StatusOr<std::unique_ptr<WorkerProcess>> w =
        WorkerProcess::StartControlled({kafka_->bootstrap(), both_, id, db_, {}});
    ASSERT_TRUE(w.ok()) << w.status();
    workers.push_back(std::move(*w));
  }
  CreateItems({"--desired-workers", "2"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 2); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 4000)).ok());

  // An operator writing all along: one new flag per command, given both replicas.
  std::atomic<bool> stop{false};
  std::set<std::string> acknowledged;
  std::atomic<int64_t> last_acknowledged_at_ms{0};
  int refused = 0;
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      const std::string name = absl::StrCat("f", i);
      CtlResult r = Sluicectl(both_, {"flags", "create", name});
      if (r.code == 0) {
        acknowledged.insert(name);
        last_acknowledged_at_ms = absl::ToUnixMillis(absl::Now());
      } else {
        ++refused;
      }
    }
  });
  absl::SleepFor(absl::Seconds(1));
  controller_->process().Signal(SIGKILL);
  ASSERT_TRUE(controller_->process().Wait(absl::Seconds(10)).has_value());
  const absl::Time killed = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return absl::StartsWith(LeaderEndpoint(*standby_), "200 leader"); },
                      absl::Seconds(10), absl::Milliseconds(50)));
  const absl::Duration handover = absl::Now() - killed;
  EXPECT_LT(handover, absl::Seconds(5));
  const absl::Time led = absl::Now();
  ASSERT_TRUE(kafka_->Produce("items", Items(4000, 4000)).ok());
  absl::SleepFor(absl::Seconds(2));
  stop = true;
  writer.join();
  // The operator's writes went on through the new leader.
  EXPECT_GT(absl::FromUnixMillis(last_acknowledged_at_ms), led);

  // Every acknowledged write is there.
  v1::ListFlagsResponse flags = CtlJson<v1::ListFlagsResponse>({"flags", "list"});
  std::set<std::string> stored;
  for (const v1::Flag& f : flags.flags()) stored.insert(f.name());
  for (const std::string& name : acknowledged) EXPECT_EQ(stored.count(name), 1u) << name;

  // Both workers reconnected to the new leader, which pushed them nothing: they
  // kept their pipelines, at the version they had applied.
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::ListWorkersResponse list = CtlJson<v1::ListWorkersResponse>({"workers", "list"});
        int connected = 0;
        for (const v1::WorkerInfo& w : list.workers()) connected += w.connected() ? 1 : 0;
        return connected == 2;
      },
      absl::Seconds(15)));
  EXPECT_TRUE(AppliedEverywhere("items", 1, 2));
  EXPECT_EQ(ScrapeMetric(standby_->metrics_port(), "sluice_controller_pushes_total"), 0)
      << "the failover moved pipelines (handover took " << handover << ")";
  ExpectExactlyOnce(8000);
  for (auto& w : workers) EXPECT_TRUE(w->process().Running());
  std::cerr << "handover " << handover << "; " << acknowledged.size() << " writes acknowledged, "
            << refused << " not\n";
}

// FlagClient (and sluice-produce, which embeds it) given both replicas watches the
// leader, and after the leader dies follows the new one: it receives a change
// made there and its horizon moves on, so it goes on deciding.
TEST_F(ControllerFailoverTest, FlagClientFollowsTheNewLeader) {
  ASSERT_EQ(Ctl({"flags", "create", "kafka-ingest"}).code, 0);
  // The follower first: its refusal names the leader, which the watch follows.
  absl::StatusOr<std::unique_ptr<flags::FlagClient>> created =
      flags::FlagClient::Create({absl::StrCat(standby_->address(), ",", controller_->address())});
  ASSERT_TRUE(created.ok()) << created.status();
  flags::FlagClient& client = **created;
  ASSERT_TRUE(client.WaitForSnapshot(absl::Seconds(10)));
  const uint64_t first = client.revision();
  controller_->process().Signal(SIGKILL);
  ASSERT_TRUE(controller_->process().Wait(absl::Seconds(10)).has_value());
  ASSERT_TRUE(WaitFor([&] { return absl::StartsWith(LeaderEndpoint(*standby_), "200 leader"); },
                      absl::Seconds(10), absl::Milliseconds(50)));
  CtlResult set = Ctl({"--json", "flags", "set", "kafka-ingest", "--percent", "100", "--in", "2s",
                       "--expected-version", "1"});
  ASSERT_EQ(set.code, 0) << set.output;
  ASSERT_TRUE(WaitFor([&] { return client.revision() > first; }, absl::Seconds(15)));
  const absl::Time later = absl::Now() + absl::Seconds(3);
  ASSERT_TRUE(WaitFor([&] { return client.known_until() >= later; }, absl::Seconds(15)));
  absl::StatusOr<flags::Evaluation> e = client.Evaluate("kafka-ingest", "p1", later);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->basis_points, 10000u);
}

// A leader that shuts down (SIGTERM: an upgrade, a drained node) stores its stats
// rollups and gives the lock up at once; the next leader starts with that history,
// which `stats` and the ramp guards read, instead of from nothing.
TEST_F(ControllerFailoverTest, AGracefulHandoverKeepsTheStatsHistory) {
  absl::StatusOr<std::unique_ptr<WorkerProcess>> w =
      WorkerProcess::StartControlled({kafka_->bootstrap(), both_, "w1", db_, {}});
  ASSERT_TRUE(w.ok()) << w.status();
  CreateItems();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 2000)).ok());
  ExpectExactlyOnce(2000);
  auto rows_in_stats = [&] {
    v1::GetStatsResponse stats =
        CtlJson<v1::GetStatsResponse>({"stats", "--by", "pipeline", "--window", "10m"});
    uint64_t rows = 0;
    for (const v1::StatsRow& r : stats.rows()) rows += r.rows();
    return rows;
  };
  ASSERT_TRUE(WaitFor([&] { return rows_in_stats() == 2000; }, absl::Seconds(30)));
  const absl::Time stopped = absl::Now();
  controller_->process().Signal(SIGTERM);
  ASSERT_TRUE(WaitFor([&] { return absl::StartsWith(LeaderEndpoint(*standby_), "200 leader"); },
                      absl::Seconds(10), absl::Milliseconds(50)));
  // (Its main loop and election round each end within a second, then it stores
  // the stats and gives the lock up; the follower tries every second.)
  EXPECT_LT(absl::Now() - stopped, absl::Seconds(8));
  EXPECT_EQ(rows_in_stats(), 2000u);
}

// A leader that hangs with its host alive (SIGSTOP here) keeps its TCP
// connections, so keepalives alone would never release its lock: its lock
// session goes idle and the server ends it, and the follower leads. The stalled
// replica, resumed, finds its lock gone and steps down, ending its streams with
// the new leader's address, which the worker follows although it was given only
// the first replica's.
TEST_F(ControllerFailoverTest, AHungLeaderIsReplacedAndItsWorkersFollowTheNewOne) {
  auto w = Worker("w1");  // controller_'s address only
  CreateItems();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  controller_->process().Signal(SIGSTOP);
  const absl::Time stopped = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return absl::StartsWith(LeaderEndpoint(*standby_), "200 leader"); },
                      absl::Seconds(20), absl::Milliseconds(50)));
  const absl::Duration handover = absl::Now() - stopped;
  // The server ends the idle session about 5 s after the last check.
  EXPECT_LT(handover, absl::Seconds(10));
  controller_->process().Signal(SIGCONT);
  ASSERT_TRUE(WaitFor(
      [&] {
        return LeaderEndpoint(*controller_) ==
               absl::StrCat("503 follower; the leader is ", standby_->address(), "\n");
      },
      absl::Seconds(10), absl::Milliseconds(50)));
  EXPECT_EQ(ScrapeMetric(controller_->metrics_port(),
                         "sluice_controller_leadership_changes_total{change=\"lost\"}"),
            1);
  ASSERT_TRUE(WaitFor(
      [&] {
        std::optional<v1::WorkerInfo> info = TryCtlJson<v1::WorkerInfo>({"workers", "get", "w1"});
        return info.has_value() && info->connected();
      },
      absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 3000)).ok());
  ExpectExactlyOnce(3000);
  std::cerr << "handover after SIGSTOP " << handover << "\n";
}

}  // namespace
}  // namespace sluice::testing
