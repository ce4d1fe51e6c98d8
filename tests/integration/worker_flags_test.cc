// The sluice-worker binary's exit codes and start-up endpoints (issue 7, item 15):
// bad flags exit 2 with one line before connecting anywhere; /healthz and /ready
// answer while PostgreSQL is down; controller mode exits non-zero when refused.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sluice/v1/control.grpc.pb.h"
#include "tests/fixtures/dev_kafka.h"
#include "tests/fixtures/postgres_server.h"
#include "tests/fixtures/subprocess.h"
#include "tests/fixtures/wait.h"
#include "tests/fixtures/worker_process.h"

namespace sluice::testing {
namespace {

// Addresses where nothing listens: a worker that tried to connect would retry
// there for ever instead of exiting.
std::string Nowhere() { return absl::StrCat("127.0.0.1:", PickFreePort()); }

// A standalone command line pointing at nothing, with `change` applied (a flag
// replaced when given, else appended; a value of "" drops the flag).
std::vector<std::string> CommandLine(const std::vector<std::pair<std::string, std::string>>& change) {
  std::vector<std::pair<std::string, std::string>> flags = {
      {"--kafka-brokers", Nowhere()},
      {"--kafka-topics", "items"},
      {"--kafka-group", "g"},
      {"--db-host", "127.0.0.1"},
      {"--db-port", std::to_string(PickFreePort())},
      {"--db-user", "postgres"},
      {"--db-name", "nowhere"},
      {"--metrics-address", absl::StrCat("127.0.0.1:", PickFreePort())}};
  for (const auto& [name, value] : change) {
    bool replaced = false;
    for (auto& f : flags) {
      if (f.first == name) {
        f.second = value;
        replaced = true;
      }
    }
    if (!replaced) flags.emplace_back(name, value);
  }
  std::vector<std::string> argv = {RunfilePath("worker/sluice-worker")};
  for (const auto& [name, value] : flags) {
    if (value.empty()) continue;
    argv.push_back(name);
    argv.push_back(value);
  }
  return argv;
}

struct BadFlag {
  std::vector<std::pair<std::string, std::string>> change;
  std::string line;
};

class WorkerBadFlagTest : public ::testing::TestWithParam<BadFlag> {};

TEST_P(WorkerBadFlagTest, ExitsTwoWithOneLineBeforeConnecting) {
  static int n = 0;
  absl::StatusOr<Subprocess> p = Subprocess::Start(
      CommandLine(GetParam().change), absl::StrCat(TestTempDir(), "/bad-flag-", n++, ".log"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->Wait(absl::Seconds(20)), 2) << p->ReadLog();
  EXPECT_EQ(p->ReadLog(), absl::StrCat("sluice-worker: ", GetParam().line, " (see --help)\n"));
}

INSTANTIATE_TEST_SUITE_P(
    Flags, WorkerBadFlagTest,
    ::testing::Values(
        BadFlag{{{"--kafka-property", "no.such.property=1"}},
                "--kafka-property: No such configuration property: \"no.such.property\""},
        BadFlag{{{"--kafka-property", "fetch.wait.max.ms=soon"}},
                "--kafka-property: Invalid value for configuration property "
                "\"fetch.wait.max.ms\""},
        BadFlag{{{"--metrics-address", "localhost"}},
                "--metrics-address: 'localhost' is not HOST:PORT"},
        BadFlag{{{"--metrics-address", "127.0.0.1:99999"}},
                "--metrics-address: port 99999 is not in 1..65535"},
        BadFlag{{{"--kafka-topics", "^x"}},
                "--kafka-topics: '^x' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"},
        BadFlag{{{"--db-user", ""}}, "--db-user is required"},
        BadFlag{{{"--consumer-timeout", "1e300"}}, "--consumer-timeout: must be at most 1h"}));

// PostgreSQL down at start: /healthz answers at once, /ready says what the worker
// waits for, and turns 200 once PostgreSQL is back and the pipeline runs.
TEST(WorkerStartupTest, HealthzAndReadyAnswerWhilePostgresIsDown) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> pg = PostgresServer::StartPrivate();
  ASSERT_TRUE(pg.ok()) << pg.status();
  absl::StatusOr<PgDatabase> db = (*pg)->CreateDatabase("startup");
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*pg)->Stop().ok());
  absl::StatusOr<std::unique_ptr<DevKafka>> kafka = DevKafka::Start({"items:1"});
  ASSERT_TRUE(kafka.ok()) << kafka.status();

  absl::StatusOr<std::unique_ptr<WorkerProcess>> w = WorkerProcess::Start(
      WorkerArgs{(*kafka)->bootstrap(), "items", "startup-group", *db, {"--create-table"}},
      "worker-startup");
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_TRUE(WaitFor([&] { return (*w)->HttpGet("/healthz") == "200 ok\n"; },
                      absl::Seconds(20)))
      << (*w)->process().ReadLog();
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string ready = (*w)->HttpGet("/ready");
        return absl::StartsWith(ready, "503 not ready: waiting for PostgreSQL: cannot connect") &&
               ready.find('\n') == ready.size() - 1 &&
               absl::StrContains((*w)->process().ReadLog(), "retrying in");
      },
      absl::Seconds(20)))
      << (*w)->HttpGet("/ready") << "\n"
      << (*w)->process().ReadLog();
  EXPECT_TRUE((*w)->process().Running());

  ASSERT_TRUE((*pg)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return (*w)->HttpGet("/ready") == "200 ready\n"; },
                      absl::Seconds(60)))
      << (*w)->HttpGet("/ready") << "\n"
      << (*w)->process().ReadLog();
  EXPECT_EQ((*w)->HttpGet("/healthz"), "200 ok\n");
  (*w)->process().Signal(SIGTERM);
  EXPECT_EQ((*w)->process().Wait(absl::Seconds(30)), 0) << (*w)->process().ReadLog();
}

// A controller that refuses every worker, as the real one refuses a bad Hello.
class RefusingController : public v1::WorkerControl::Service {
  grpc::Status Connect(grpc::ServerContext*,
                       grpc::ServerReaderWriter<v1::ControllerMessage, v1::WorkerMessage>*)
      override {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message must be a Hello with a worker_id");
  }
};

// Controller mode: a refusal no retry changes stops the worker with exit 1 (it
// used to retry for ever and exit 0 on SIGTERM).
TEST(WorkerControllerModeTest, ExitsOneWhenTheControllerRefusesForGood) {
  int port = 0;
  RefusingController service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);
  const std::string controller = absl::StrCat("127.0.0.1:", port);

  std::vector<std::string> argv = {RunfilePath("worker/sluice-worker"),
                                   "--controller",
                                   controller,
                                   "--worker-id",
                                   "w1",
                                   "--kafka-brokers",
                                   Nowhere(),
                                   "--db-port",
                                   std::to_string(PickFreePort()),
                                   "--db-user",
                                   "postgres",
                                   "--db-name",
                                   "nowhere",
                                   "--metrics-address",
                                   absl::StrCat("127.0.0.1:", PickFreePort())};
  absl::StatusOr<Subprocess> p =
      Subprocess::Start(argv, absl::StrCat(TestTempDir(), "/controlled-refused.log"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->Wait(absl::Seconds(30)), 1) << p->ReadLog();
  EXPECT_TRUE(absl::StrContains(p->ReadLog(),
                                absl::StrCat("controller ", controller,
                                             " refused this worker: the first message must be "
                                             "a Hello with a worker_id")))
      << p->ReadLog();
  server->Shutdown();
}

}  // namespace
}  // namespace sluice::testing
