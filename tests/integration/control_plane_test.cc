// The control plane end to end: a real sluice-controller, worker processes in
// controller mode, sluicectl, PostgreSQL and the dev broker.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/grpc_limits.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "tests/fixtures/controller_process.h"
#include "tests/fixtures/prometheus_server.h"
#include "tests/integration/control_plane_test_base.h"

namespace sluice::testing {
namespace {

TEST_F(ControlPlaneTest, PipelineCreatedWithSluicectlIsIngestedExactlyOnceByTwoWorkers) {
  auto w1 = Worker("w1");
  auto w2 = Worker("w2");
  CreateItems({"--desired-workers", "2"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 2); }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] {
    return w1->HttpGet("/ready") == "200 ready\n" && w2->HttpGet("/ready") == "200 ready\n";
  }, absl::Seconds(60)));
  for (int chunk = 0; chunk < 4; ++chunk) {
    ASSERT_TRUE(kafka_->Produce("items", Items(chunk * 5000, 5000)).ok());
  }
  ExpectExactlyOnce(20000);
  const double r1 = w1->Metric("sluice_rows_written_total{pipeline=\"items\"}");
  const double r2 = w2->Metric("sluice_rows_written_total{pipeline=\"items\"}");
  EXPECT_GT(r1, 0);
  EXPECT_GT(r2, 0);
  EXPECT_EQ(r1 + r2, 20000);
  // Under a loaded machine (sanitizers, tests side by side) the controller's
  // leadership can lapse and its streams end; the workers then reconnect, so
  // they are listed as connected again within a few seconds.
  v1::ListWorkersResponse workers;
  ASSERT_TRUE(WaitFor(
      [&] {
        workers = CtlJson<v1::ListWorkersResponse>({"workers", "list"});
        return workers.workers_size() == 2 && workers.workers(0).connected() &&
               workers.workers(1).connected();
      },
      absl::Seconds(30)))
      << workers.DebugString();
  for (const v1::WorkerInfo& w : workers.workers()) {
    EXPECT_EQ(w.pipelines_size(), 1);
    EXPECT_FALSE(w.applied_config_version().empty());
  }
}

// The queries of deploy/grafana/sluice.json: every panels[].targets[].expr,
// parsed as JSON.
std::vector<std::string> DashboardQueries() {
  std::vector<std::string> queries;
  simdjson::dom::parser parser;
  simdjson::dom::element dashboard;
  if (parser.load("deploy/grafana/sluice.json").get(dashboard)) {
    ADD_FAILURE() << "deploy/grafana/sluice.json is not JSON";
    return queries;
  }
  for (simdjson::dom::element panel : dashboard["panels"].get_array()) {
    for (simdjson::dom::element target : panel["targets"].get_array()) {
      std::string_view expr;
      if (!target["expr"].get(expr)) queries.emplace_back(expr);
    }
  }
  return queries;
}

// The metric names those queries read.
std::set<std::string> DashboardMetrics() {
  std::set<std::string> names;
  const std::regex metric("\\b(sluice_[a-z0-9_]+|kafka_[a-z0-9_]+)");
  for (const std::string& query : DashboardQueries()) {
    for (auto m = std::sregex_iterator(query.begin(), query.end(), metric);
         m != std::sregex_iterator(); ++m) {
      names.insert((*m)[1]);
    }
  }
  return names;
}

// Issue 12: a real Prometheus (Debian's) scrapes the controller and two workers;
// the rows, lag (in messages, under kafka_exporter's name and in seconds) and
// freshness series exist for both workers, and every metric the Grafana
// dashboard queries exists.
TEST_F(ControlPlaneTest, PrometheusScrapesTheControllerAndTwoWorkers) {
  auto w1 = Worker("w1");
  auto w2 = Worker("w2");
  ASSERT_EQ(Ctl({"flags", "create", "kafka-ingest"}).code, 0);  // for the rollout panels
  CreateItems({"--desired-workers", "2"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 2); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 3000)).ok());
  ExpectExactlyOnce(3000);
  absl::StatusOr<std::unique_ptr<::sluice::testing::PrometheusServer>> prometheus =
      ::sluice::testing::PrometheusServer::Start(
          {absl::StrCat("127.0.0.1:", controller_->metrics_port()),
           absl::StrCat("127.0.0.1:", w1->metrics_port()),
           absl::StrCat("127.0.0.1:", w2->metrics_port())});
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  auto query = [&](const std::string& promql) { return (*prometheus)->QueryScalar(promql); };
  ASSERT_TRUE(WaitFor([&] { return query("count(up == 1)") == 3; }, absl::Seconds(30)))
      << query("count(up == 1)").value_or(-1);
  ASSERT_TRUE(
      WaitFor([&] { return query("sum(sluice_rows_written_total)") == 3000; }, absl::Seconds(30)));
  for (const char* series :
       {"sluice_rows_written_total", "sluice_consumer_lag_messages", "kafka_consumergroup_lag",
        "sluice_consumer_lag_seconds", "sluice_freshness_seconds_count"}) {
    const std::string promql = absl::StrCat("count(count by (instance) (", series, "))");
    EXPECT_TRUE(WaitFor([&] { return query(promql) == 2; }, absl::Seconds(30)))
        << series << ": " << query(promql).value_or(-1);
  }
  // Everything is committed: no lag, in messages or in time.
  EXPECT_TRUE(
      WaitFor([&] { return query("sum(kafka_consumergroup_lag)") == 0; }, absl::Seconds(30)));
  EXPECT_TRUE(
      WaitFor([&] { return query("max(sluice_consumer_lag_seconds)") == 0; }, absl::Seconds(30)));
  EXPECT_EQ(query("sum(sluice_freshness_seconds_count)"), 3000);
  EXPECT_EQ(query("sluice_controller_leader"), 1);
  const std::set<std::string> dashboard = DashboardMetrics();
  EXPECT_EQ(dashboard.size(), 19u);  // every metric of deploy/grafana/sluice.json
  for (const std::string& name : dashboard) {
    EXPECT_TRUE(WaitFor([&] { return query(absl::StrCat("count(", name, ")")).value_or(0) > 0; },
                        absl::Seconds(30)))
        << "the dashboard queries " << name << ", which no target exports";
  }
  // And every query of the dashboard answers something (a join that matches
  // nothing, or a typo in a label, would leave its panel empty).
  const std::vector<std::string> queries = DashboardQueries();
  EXPECT_EQ(queries.size(), 19u);
  for (const std::string& q : queries) {
    EXPECT_TRUE(WaitFor([&] { return query(absl::StrCat("count(", q, ")")).value_or(0) > 0; },
                        absl::Seconds(30)))
        << "the dashboard's query " << q << " answers nothing";
  }
  // The versions panel joins each worker's config version to its build.
  EXPECT_EQ(query("count(sluice_pipeline_config_version * on (instance) group_left (version) "
                  "sluice_build_info)"),
            2);
}

// Runs tmux with `args`; returns what it printed (the log file's text).
std::string Tmux(const std::vector<std::string>& args) {
  // Its socket under a short path: a Unix socket's path has at most 107 bytes,
  // less than the test's own directory can take.
  static const std::string dir = [] {
    char path[] = "/tmp/sluice-tmux-XXXXXX";
    return std::string(mkdtemp(path) != nullptr ? path : "/tmp");
  }();
  std::vector<std::string> argv = {"env", absl::StrCat("TMUX_TMPDIR=", dir), "tmux", "-L",
                                   absl::StrCat("t", getpid())};
  argv.insert(argv.end(), args.begin(), args.end());
  static int calls = 0;  // a log per call: RunCommand appends
  const std::string log = absl::StrCat(::sluice::testing::TestTempDir(), "/tmux-", ++calls, ".log");
  absl::StatusOr<int> rc = ::sluice::testing::RunCommand(argv, log, absl::Seconds(10));
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return rc.ok() && *rc == 0 ? text.str() : absl::StrCat("exit ", rc.ok() ? *rc : -1);
}

// Issue 12: sluicectl top, driven in a real terminal (tmux, 80 columns): it shows
// the worker and the pipeline with their figures, fits the width, and quits on q.
TEST_F(ControlPlaneTest, TopShowsWorkersAndPipelinesInEightyColumnsAndQuitsOnQ) {
  auto w = Worker("w1");
  CreateItems();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 500)).ok());
  ExpectExactlyOnce(500);
  const std::string command = absl::StrCat("SLUICE_CONTROLLER=", controller_->address(), " ",
                                           ::sluice::testing::RunfilePath("cli/sluicectl"), " top");
  ASSERT_EQ(Tmux({"new-session", "-d", "-s", "top", "-x", "80", "-y", "30", command}), "");
  std::string screen;
  const bool shown = WaitFor(
      [&] {
        screen = Tmux({"capture-pane", "-p", "-t", "top"});
        return absl::StrContains(screen, "PIPELINES (1)") && absl::StrContains(screen, "w1") &&
               absl::StrContains(screen, "items");
      },
      absl::Seconds(30));
  EXPECT_TRUE(shown) << screen;
  for (absl::string_view line : absl::StrSplit(screen, '\n')) {
    size_t columns = 0;
    for (unsigned char c : line) columns += (c & 0xC0) != 0x80;
    EXPECT_LE(columns, 80u) << line;
  }
  ASSERT_EQ(Tmux({"send-keys", "-t", "top", "q"}), "");
  // The command ended, so tmux ended its only session (and its server).
  EXPECT_TRUE(WaitFor([&] { return Tmux({"has-session", "-t", "top"}) != ""; }, absl::Seconds(10)));
  Tmux({"kill-server"});
}

TEST_F(ControlPlaneTest, ConsumerTimeoutChangeIsAckedAndFollowedWithoutRestart) {
  auto w = Worker("w1");
  CreateItems();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] { return w->HttpGet("/ready") == "200 ready\n"; }, absl::Seconds(60)));
  CtlResult r = Ctl({"pipelines", "update", "items", "--expected-version", "1",
                     "--consumer-timeout", "2.5s"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "2.5s")) << r.output;
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 2, 1); }, absl::Seconds(30)));
  // A lone message now waits the new consumer timeout in its batch.
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 1)).ok());
  const absl::Time produced = absl::Now();
  ASSERT_TRUE(WaitFor([&] { return TablesExist() && Landed() == 1; }, absl::Seconds(20),
                      absl::Milliseconds(10)));
  const absl::Duration waited = absl::Now() - produced;
  EXPECT_GE(waited, absl::Milliseconds(2000)) << "batched with the old 150ms timeout";
  EXPECT_LT(waited, absl::Milliseconds(2500 + 1500));
  // The same process, never restarted.
  EXPECT_TRUE(w->process().Running());
  EXPECT_TRUE(absl::StrContains(w->process().ReadLog(), "now at v2 (batch limits live)"));

  // Issue 12: a freshness target instead; the worker tunes the timeout itself (a
  // steady trickle of fresh messages lengthens it no further than 0.6 × 2 s) and
  // pipelines status shows the timeout in use.
  r = Ctl({"pipelines", "update", "items", "--expected-version", "2", "--freshness-target", "2s",
           "--consumer-timeout", "0.1"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "freshness target: 2s p99")) << r.output;
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 3, 1); }, absl::Seconds(30)));
  auto timeout = [&] { return w->Metric("sluice_consumer_timeout_seconds{pipeline=\"items\"}"); };
  // It starts at the new consumer timeout (0.1 s), then grows.
  ASSERT_TRUE(WaitFor([&] { return timeout() < 0.3; }, absl::Seconds(30))) << timeout();
  int seq = 1;
  ASSERT_TRUE(WaitFor(
      [&] {
        EXPECT_TRUE(kafka_->Produce("items", Items(seq++, 1)).ok());
        return timeout() > 0.3;
      },
      absl::Seconds(60), absl::Milliseconds(200)))
      << timeout();
  EXPECT_LE(timeout(), 1.2);
  v1::PipelineStatus status;
  ASSERT_TRUE(WaitFor(
      [&] {
        status = CtlJson<v1::PipelineStatus>({"pipelines", "status", "items"});
        return status.workers_size() == 1 && status.workers(0).consumer_timeout_ms() > 300;
      },
      absl::Seconds(30)))
      << status.DebugString();
  EXPECT_TRUE(absl::StrContains(Ctl({"pipelines", "status", "items"}).output, "TIMEOUT"));
}

TEST_F(ControlPlaneTest, MissingTableIsNackedAndOtherPipelinesKeepRunning) {
  auto w = Worker("w1", {"--nack-retry-interval", "1s"});
  CreateItems();
  CtlResult r = Ctl({"pipelines", "create", "broken", "--topics", "items", "--table",
                     "missing_table"});
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_TRUE(WaitFor([&] {
    v1::PipelineStatus s = CtlJson<v1::PipelineStatus>({"pipelines", "status", "broken"});
    return s.workers_size() == 1 && !s.workers(0).nack_error().empty();
  }, absl::Seconds(30)));
  CtlResult status = Ctl({"pipelines", "status", "broken"});
  EXPECT_TRUE(absl::StrContains(
      status.output,
      "NACK   pipeline broken v1: table missing_table does not exist (create it, or start "
      "with --create-table)"))
      << status.output;
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 3000)).ok());
  ExpectExactlyOnce(3000);
  v1::WorkerInfo info = CtlJson<v1::WorkerInfo>({"workers", "get", "w1"});
  EXPECT_TRUE(absl::StrContains(info.last_nack(), "missing_table")) << info.last_nack();
  // Once the table exists, the worker's retry applies the same assignment and ACKs
  // it, without a reconnect or a new push.
  ASSERT_EQ(db_.Exec("CREATE TABLE missing_table (LIKE raw_items INCLUDING ALL)"), "");
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("broken", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] { return db_.QueryInt("SELECT count(*) FROM missing_table") == 3000; },
                      absl::Seconds(60)));
  EXPECT_EQ(CtlJson<v1::WorkerInfo>({"workers", "get", "w1"}).last_nack(), "");
  EXPECT_TRUE(absl::StrContains(w->process().ReadLog(), "retrying NACKed assignment"));
}

// A pipeline mapped onto the user's own table, created with sluicectl: the rows
// land there exactly once; a mapping the table cannot take is NACKed with the
// reason while the last good version keeps ingesting.
TEST_F(ControlPlaneTest, AMappedPipelineFillsTheUsersTableAndAMismatchIsNacked) {
  auto w = Worker("w1");
  ASSERT_EQ(db_.Exec("CREATE TABLE page_views (project integer NOT NULL, seq bigint PRIMARY KEY, "
                     "event text, customer text, raw jsonb, partition_no integer)"),
            "");
  CreateItems({"--table", "page_views", "--column", "project=/project_id:integer", "--column",
               "seq=/seq:bigint", "--column", "event=/event:text", "--column", "customer=key:text",
               "--column", "raw=payload", "--column", "partition_no=partition"});
  CtlResult get = Ctl({"pipelines", "get", "items"});
  ASSERT_EQ(get.code, 0) << get.output;
  EXPECT_TRUE(absl::StrContains(get.output, "project       /project_id  integer")) << get.output;
  EXPECT_TRUE(absl::StrContains(get.output, "customer      key          text")) << get.output;
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 2000)).ok());
  auto landed = [&] { return db_.QueryInt("SELECT count(*) FROM page_views"); };
  ASSERT_TRUE(WaitFor([&] { return landed() >= 2000; }, absl::Seconds(60))) << landed();
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM page_views WHERE project = seq % 50 AND "
                         "event = 'page_view' AND customer = 'p' || project AND "
                         "(raw->>'seq')::bigint = seq AND partition_no >= 0"),
            2000);

  // A column the table lacks: every worker refuses v2 and says why; v1 ingests on.
  CtlResult r =
      Ctl({"pipelines", "update", "items", "--expected-version", "1", "--column", "seq=/seq:bigint",
           "--column", "project=/project_id:integer", "--column", "nope=/event:text"});
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::PipelineStatus s = CtlJson<v1::PipelineStatus>({"pipelines", "status", "items"});
        return s.workers_size() == 1 && !s.workers(0).nack_error().empty();
      },
      absl::Seconds(30)));
  CtlResult status = Ctl({"pipelines", "status", "items"});
  EXPECT_TRUE(absl::StrContains(status.output,
                                "NACK   pipeline items v2: table page_views has no column nope "
                                "(text)"))
      << status.output;
  ASSERT_TRUE(kafka_->Produce("items", Items(2000, 1000)).ok());
  ASSERT_TRUE(WaitFor([&] { return landed() >= 3000; }, absl::Seconds(60))) << landed();
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM page_views WHERE event = 'page_view'"), 3000);

  // pipelines validate runs the workers' pre-flight before anything is pushed.
  CtlResult validated = Ctl({"pipelines", "validate", "items", "--column", "seq=/seq:bigint",
                             "--column", "event=/event:integer"});
  EXPECT_EQ(validated.code, 1) << validated.output;
  EXPECT_TRUE(absl::StrContains(validated.output,
                                "but workers would refuse it (NACK) until the table is fixed: "
                                "table page_views column event is text, need integer"))
      << validated.output;
  EXPECT_EQ(Ctl({"pipelines", "validate", "items", "--column", "seq=/seq:bigint", "--column",
                 "project=/project_id:integer"})
                .code,
            0);
  // A mapping the controller can tell is wrong never reaches a worker.
  r = Ctl(
      {"pipelines", "update", "items", "--expected-version", "2", "--column", "seq=topic:bigint"});
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "columns[0].type: topic does not convert to bigint"))
      << r.output;
}

// Issue 11: two workers upsert the keys of a keyed producer concurrently (each key
// lives in one partition): no deadlock, and each key ends at its last offset.
TEST_F(ControlPlaneTest, TwoWorkersUpsertingKeepTheLastValueOfEveryKey) {
  auto w1 = Worker("w1");
  auto w2 = Worker("w2");
  ASSERT_EQ(db_.Exec("CREATE TABLE customers (customer text PRIMARY KEY, last_seq bigint, "
                     "project integer, updates integer DEFAULT 0)"),
            "");
  CreateItems({"--desired-workers", "2", "--table", "customers", "--column", "customer=key:text",
               "--column", "last_seq=/seq:bigint", "--column", "project=/project_id:integer",
               "--write-mode", "upsert", "--key-columns", "customer"});
  CtlResult get = Ctl({"pipelines", "get", "items"});
  EXPECT_TRUE(absl::StrContains(get.output, "write mode: upsert on (customer)")) << get.output;
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 2); }, absl::Seconds(30)));
  for (int chunk = 0; chunk < 5; ++chunk) {
    ASSERT_TRUE(kafka_->Produce("items", Items(chunk * 1000, 1000)).ok());
  }
  auto written = [&] {
    return w1->Metric("sluice_rows_written_total{pipeline=\"items\"}") +
           w2->Metric("sluice_rows_written_total{pipeline=\"items\"}");
  };
  ASSERT_TRUE(WaitFor([&] { return written() >= 5000; }, absl::Seconds(90))) << written();
  EXPECT_EQ(written(), 5000);
  EXPECT_GT(w1->Metric("sluice_rows_written_total{pipeline=\"items\"}"), 0);
  EXPECT_GT(w2->Metric("sluice_rows_written_total{pipeline=\"items\"}"), 0);
  // Items(i): key p<i % 50>, seq i. The last of each key is 4950 + its project.
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM customers"), 50);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM customers WHERE last_seq = 4950 + project AND "
                         "customer = 'p' || project"),
            50);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters"), 0);
}

// Issue 11: with bad_rows none the first bad row pauses the pipeline, which says
// why; once the tolerance allows them, the same items land and the bad ones become
// dead letters.
TEST_F(ControlPlaneTest, ToleranceNonePausesAtTheFirstBadRowWithTheReason) {
  auto w = Worker("w1");
  CreateItems({"--bad-rows", "none"});
  CtlResult get = Ctl({"pipelines", "get", "items"});
  EXPECT_TRUE(absl::StrContains(get.output, "bad rows: none (the first pauses the pipeline)"))
      << get.output;
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(1, 200, /*invalid_every=*/100)).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(Ctl({"pipelines", "status", "items"}).output, "tolerance is none");
      },
      absl::Seconds(60)))
      << Ctl({"pipelines", "status", "items"}).output;
  CtlResult status = Ctl({"pipelines", "status", "items"});
  EXPECT_TRUE(absl::StrContains(status.output, "bad rows: the row at items/")) << status.output;
  EXPECT_TRUE(absl::StrContains(status.output, "invalid input syntax for type json"))
      << status.output;
  EXPECT_TRUE(absl::StrContains(w->HttpGet("/ready"), "tolerance is none"));
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters"), 0);

  CtlResult r =
      Ctl({"pipelines", "update", "items", "--expected-version", "1", "--bad-rows", "rate:0.5/1m"});
  ASSERT_EQ(r.code, 0) << r.output;
  ExpectExactlyOnce(200);  // rows and dead letters
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 198);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE convert_from(kafka_key, "
                         "'UTF8') LIKE 'bad-%'"),
            2);
}

// Issue 11: dead letters listed, shown and discarded with sluicectl, audited.
TEST_F(ControlPlaneTest, DeadLettersAreListedShownAndDiscarded) {
  auto w = Worker("w1");
  CreateItems();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(1, 300, /*invalid_every=*/100)).ok());
  ExpectExactlyOnce(300);
  v1::ListDeadLettersResponse listed =
      CtlJson<v1::ListDeadLettersResponse>({"deadletters", "list", "items"});
  ASSERT_EQ(listed.dead_letters_size(), 3);
  EXPECT_EQ(listed.pending(), 3);
  EXPECT_EQ(listed.dead_letters(0).sqlstate(), "22P02");
  EXPECT_GT(listed.dead_letters(0).id(), listed.dead_letters(1).id()) << "newest first";
  EXPECT_TRUE(listed.dead_letters(0).payload().empty()) << "a list carries no payloads";
  CtlResult table = Ctl({"deadletters", "list", "items"});
  EXPECT_TRUE(absl::StrContains(table.output, "pipeline items: 3 pending, 0 replayed, 0 discarded"))
      << table.output;
  const std::string id = absl::StrCat(listed.dead_letters(2).id());
  CtlResult shown = Ctl({"deadletters", "show", "items", id});
  ASSERT_EQ(shown.code, 0) << shown.output;
  EXPECT_TRUE(absl::StrContains(shown.output, "key:       bad-")) << shown.output;
  EXPECT_TRUE(absl::StrContains(shown.output, "truncated")) << shown.output;
  EXPECT_TRUE(absl::StrContains(shown.output, "path:      kafka\n")) << shown.output;
  EXPECT_TRUE(absl::StrContains(shown.output, "timestamp: 20")) << shown.output;
  EXPECT_EQ(Ctl({"deadletters", "show", "items", "999999"}).code, 1);
  // Discarding all needs to be asked for.
  CtlResult refused = Ctl({"deadletters", "discard", "items"});
  EXPECT_EQ(refused.code, 1) << refused.output;
  CtlResult discarded = Ctl({"deadletters", "discard", "items", "--to-id", id});
  ASSERT_EQ(discarded.code, 0) << discarded.output;
  EXPECT_TRUE(absl::StrContains(discarded.output, "discarded 1 dead letters")) << discarded.output;
  listed =
      CtlJson<v1::ListDeadLettersResponse>({"deadletters", "list", "items", "--state", "pending"});
  EXPECT_EQ(listed.dead_letters_size(), 2);
  EXPECT_EQ(listed.discarded(), 1);
  v1::DeadLetter d = CtlJson<v1::DeadLetter>({"deadletters", "show", "items", id});
  EXPECT_EQ(d.state(), v1::DEAD_LETTER_STATE_DISCARDED);
  EXPECT_FALSE(d.handled_by().empty());
  CtlResult again = Ctl({"deadletters", "discard", "items", "--sqlstate", "22P02"});
  EXPECT_TRUE(absl::StrContains(again.output, "discarded 2 dead letters")) << again.output;
  CtlResult audit = Ctl({"audit", "list", "--target", "items"});
  EXPECT_TRUE(absl::StrContains(audit.output, "deadletters.discard")) << audit.output;
}

// Issue 11: after the table is fixed, a replay lands each dead letter exactly
// once through the pipeline's mapping; a second replay finds nothing to do.
TEST_F(ControlPlaneTest, AReplayAfterFixingTheTableLandsEachRowExactlyOnce) {
  auto w = Worker("w1");
  ASSERT_EQ(db_.Exec("CREATE TABLE views (seq bigint PRIMARY KEY, project integer, "
                     "CONSTRAINT no_threes CHECK (seq % 10 <> 3))"),
            "");
  CreateItems({"--table", "views", "--column", "seq=/seq:bigint", "--column",
               "project=/project_id:integer"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 1000)).ok());
  auto rows = [&] { return db_.QueryInt("SELECT count(*) FROM views"); };
  auto dead = [&] { return db_.QueryInt("SELECT count(*) FROM sluice_dead_letters"); };
  ASSERT_TRUE(WaitFor([&] { return rows() + dead() >= 1000; }, absl::Seconds(60)));
  EXPECT_EQ(rows(), 900);
  EXPECT_EQ(dead(), 100);
  // Pending dead letters in stats and in the controller's metrics (counted every 10 s).
  auto stats_row = [&] {
    v1::GetStatsResponse stats = CtlJson<v1::GetStatsResponse>({"stats", "--by", "pipeline"});
    return stats.rows_size() == 1 ? stats.rows(0) : v1::StatsRow();
  };
  EXPECT_EQ(stats_row().dead_letters_pending(), 100);
  EXPECT_TRUE(absl::StrContains(Ctl({"stats", "--by", "pipeline"}).output, "DL PENDING"));
  auto metric = [&](const std::string& state) {
    return ScrapeMetric(
        controller_->metrics_port(),
        absl::StrCat("sluice_controller_dead_letters{pipeline=\"items\",state=\"", state, "\"}"));
  };
  EXPECT_TRUE(WaitFor([&] { return metric("pending") == 100; }, absl::Seconds(30)))
      << metric("pending");
  // Replaying into the unfixed table refuses them again: they stay pending.
  CtlResult r = Ctl({"deadletters", "replay", "items", "--all"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output,
                                "replayed 0 of 100 pending dead letters of pipeline "
                                "items; 100 refused again"))
      << r.output;
  ASSERT_EQ(db_.Exec("ALTER TABLE views DROP CONSTRAINT no_threes"), "");
  r = Ctl({"deadletters", "replay", "items", "--all"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "replayed 100 of 100")) << r.output;
  r = Ctl({"deadletters", "replay", "items", "--all"});
  EXPECT_TRUE(absl::StrContains(r.output, "replayed 0 of 0")) << r.output;
  EXPECT_EQ(rows(), 1000);
  EXPECT_EQ(db_.QueryInt("SELECT count(DISTINCT seq) FROM views WHERE project = seq % 50"), 1000);
  v1::ListDeadLettersResponse listed =
      CtlJson<v1::ListDeadLettersResponse>({"deadletters", "list", "items"});
  EXPECT_EQ(listed.replayed(), 100);
  EXPECT_EQ(listed.pending(), 0);
  EXPECT_EQ(stats_row().dead_letters_pending(), 0);
  EXPECT_EQ(stats_row().dead_letters_replayed(), 100);
  EXPECT_TRUE(WaitFor([&] { return metric("replayed") == 100 && metric("pending") == 0; },
                      absl::Seconds(30)))
      << metric("replayed");
  EXPECT_TRUE(
      absl::StrContains(Ctl({"audit", "list", "--target", "items"}).output, "deadletters.replay"));
  // The worker goes on: later items land too.
  ASSERT_TRUE(kafka_->Produce("items", Items(1000, 10)).ok());
  ASSERT_TRUE(WaitFor([&] { return rows() == 1010; }, absl::Seconds(30))) << rows();
}

TEST_F(ControlPlaneTest, StaleVersionsAndInvalidValuesAreRefusedPrecisely) {
  CreateItems();
  ASSERT_EQ(Ctl({"pipelines", "update", "items", "--expected-version", "1", "--batch-max-rows",
                 "500"}).code, 0);
  const int64_t audit_before = db_.QueryInt("SELECT count(*) FROM sluice_controller.audit");
  CtlResult stale = Ctl({"pipelines", "update", "items", "--expected-version", "1",
                         "--batch-max-rows", "700"});
  EXPECT_EQ(stale.code, 1);
  EXPECT_EQ(stale.output,
            "sluicectl: ABORTED: pipeline items is at version 2, not expected_version 1; read it "
            "again and retry\n");
  v1::Pipeline p = CtlJson<v1::Pipeline>({"pipelines", "get", "items"});
  EXPECT_EQ(p.version(), 2u);
  EXPECT_EQ(p.config().batch().max_rows(), 500u);

  CtlResult regroup = Ctl({"pipelines", "update", "items", "--expected-version", "2", "--group",
                           "other"});
  EXPECT_EQ(regroup.code, 1);
  EXPECT_EQ(regroup.output,
            "sluicectl: INVALID_ARGUMENT: consumer_group: cannot change from sluice-items (the "
            "stored offsets belong to it); create a new pipeline instead\n");
  // Review finding: two pipelines could share a consumer group (and so its
  // partitions and its stored offsets).
  CtlResult shared = Ctl({"pipelines", "create", "twin", "--topics", "items", "--group",
                          "sluice-items"});
  EXPECT_EQ(shared.code, 1);
  EXPECT_EQ(shared.output,
            "sluicectl: ALREADY_EXISTS: consumer_group: 'sluice-items' is already the group of "
            "pipeline items\n");
  CtlResult empty = Ctl({"pipelines", "create", "x", "--topics", ","});
  EXPECT_EQ(empty.code, 1);
  EXPECT_EQ(empty.output, "sluicectl: INVALID_ARGUMENT: topics: must not be empty\n");
  CtlResult zero = Ctl({"pipelines", "create", "x", "--topics", "a", "--consumer-timeout", "0"});
  EXPECT_EQ(zero.code, 1);
  EXPECT_EQ(zero.output,
            "sluicectl: INVALID_ARGUMENT: batch.consumer_timeout: must be greater than 0 (got "
            "0)\n");
  CtlResult unknown = Ctl({"pipelines", "get", "nope"});
  EXPECT_EQ(unknown.code, 1);
  EXPECT_EQ(unknown.output, "sluicectl: NOT_FOUND: pipeline nope not found\n");
  CtlResult pause_unknown = Ctl({"pipelines", "pause", "nope"});
  EXPECT_EQ(pause_unknown.output, "sluicectl: NOT_FOUND: pipeline nope not found\n");
  CtlResult usage = Ctl({"pipelines", "frobnicate", "items"});
  EXPECT_EQ(usage.code, 2);

  // Straight through the API: a negative timeout (sluicectl refuses to send one).
  auto stub = v1::Admin::NewStub(
      grpc::CreateChannel(controller_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  v1::UpdatePipelineRequest req;
  *req.mutable_config() = p.config();
  req.mutable_config()->mutable_batch()->mutable_consumer_timeout()->set_seconds(-1);
  req.mutable_config()->mutable_batch()->mutable_consumer_timeout()->set_nanos(0);
  req.set_expected_version(2);
  v1::Pipeline out;
  grpc::Status s = stub->UpdatePipeline(&ctx, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "batch.consumer_timeout: must be greater than 0 (got -1s)");
  grpc::ClientContext ctx2;
  req.mutable_config()->mutable_batch()->mutable_consumer_timeout()->set_seconds(1);
  req.mutable_config()->add_topics("bad topic");
  s = stub->UpdatePipeline(&ctx2, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "topics[1]: 'bad topic' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)");

  // Nothing changed, and no refused write reached the audit log.
  EXPECT_EQ(CtlJson<v1::Pipeline>({"pipelines", "get", "items"}).version(), 2u);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_controller.audit"), audit_before);
  CtlResult audit = Ctl({"audit", "list"});
  EXPECT_TRUE(absl::StrContains(audit.output, "pipeline.update")) << audit.output;
  EXPECT_TRUE(absl::StrContains(audit.output, "pipeline.create")) << audit.output;
}

TEST_F(ControlPlaneTest, ControllerDownKeepsIngestionAndRestartResumesWithoutResend) {
  auto w = Worker("w1");
  CreateItems();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  controller_->process().Signal(SIGKILL);
  ASSERT_TRUE(controller_->process().Wait(absl::Seconds(10)).has_value());
  // Ingestion goes on without the controller.
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 5000)).ok());
  ExpectExactlyOnce(5000);
  ASSERT_TRUE(controller_->Restart().ok());
  // State intact.
  v1::Pipeline p = CtlJson<v1::Pipeline>({"pipelines", "get", "items"});
  EXPECT_EQ(p.version(), 1u);
  EXPECT_EQ(p.config().topics(0), "items");
  // The worker reconnects and is not sent the version it already applied.
  ASSERT_TRUE(WaitFor([&] {
    std::optional<v1::WorkerInfo> info = TryCtlJson<v1::WorkerInfo>({"workers", "get", "w1"});
    return info.has_value() && info->connected();
  }, absl::Seconds(30)));
  EXPECT_TRUE(AppliedEverywhere("items", 1, 1));
  EXPECT_EQ(ScrapeMetric(controller_->metrics_port(), "sluice_controller_pushes_total"), 0);
  ASSERT_TRUE(kafka_->Produce("items", Items(5000, 5000)).ok());
  ExpectExactlyOnce(10000);
  EXPECT_TRUE(w->process().Running());
}

TEST_F(ControlPlaneTest, DrainedWorkerHandsItsPartitionsBack) {
  auto w1 = Worker("w1");
  auto w2 = Worker("w2");
  auto w3 = Worker("w3");
  CreateItems({"--desired-workers", "3", "--batch-max-rows", "500"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 3); }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] {
    return w1->HttpGet("/ready") == "200 ready\n" && w2->HttpGet("/ready") == "200 ready\n" &&
           w3->HttpGet("/ready") == "200 ready\n";
  }, absl::Seconds(60)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 6000)).ok());
  ASSERT_TRUE(WaitFor([&] { return TablesExist() && Landed() == 6000; }, absl::Seconds(60)));
  CtlResult drain = Ctl({"workers", "drain", "w1"});
  ASSERT_EQ(drain.code, 0) << drain.output;
  EXPECT_TRUE(absl::StrContains(drain.output, "draining")) << drain.output;
  // w1 stops its pipeline (flush, leave the group); the others take its partitions.
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(w1->process().ReadLog(), "stopped pipeline items");
  }, absl::Seconds(30)));
  const double w1_rows = w1->Metric("sluice_rows_written_total{pipeline=\"items\"}");
  for (int chunk = 0; chunk < 3; ++chunk) {
    ASSERT_TRUE(kafka_->Produce("items", Items(6000 + chunk * 3000, 3000)).ok());
  }
  ExpectExactlyOnce(15000);
  EXPECT_EQ(w1->Metric("sluice_rows_written_total{pipeline=\"items\"}"), w1_rows);
  v1::PipelineStatus s = CtlJson<v1::PipelineStatus>({"pipelines", "status", "items"});
  EXPECT_EQ(s.workers_size(), 2);
  for (const v1::PipelineWorkerStatus& ws : s.workers()) EXPECT_NE(ws.worker_id(), "w1");
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list"}).output, "worker.drain"));
}

TEST_F(ControlPlaneTest, StatsAreKeptPerBuildVersion) {
  auto a = Worker("wa", {"--version-label", "1.0.0"});
  auto b = Worker("wb", {"--version-label", "1.1.0-rc1"});
  CreateItems({"--desired-workers", "2"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 2); }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] {
    return a->HttpGet("/ready") == "200 ready\n" && b->HttpGet("/ready") == "200 ready\n";
  }, absl::Seconds(60)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 8000)).ok());
  ExpectExactlyOnce(8000);
  // Both versions show, and between them they account for every row.
  v1::GetStatsResponse stats;
  ASSERT_TRUE(WaitFor([&] {
    stats = CtlJson<v1::GetStatsResponse>({"stats", "--by", "version", "--window", "10m"});
    uint64_t total = 0;
    for (const v1::StatsRow& r : stats.rows()) total += r.rows();
    return stats.rows_size() == 2 && total == 8000;
  }, absl::Seconds(20)));
  EXPECT_EQ(stats.rows(0).key(), "1.0.0");
  EXPECT_EQ(stats.rows(1).key(), "1.1.0-rc1");
  EXPECT_GT(stats.rows(0).rows(), 0u);
  EXPECT_GT(stats.rows(1).rows(), 0u);
  CtlResult table = Ctl({"stats", "--by", "version"});
  EXPECT_TRUE(absl::StrContains(table.output, "VERSION")) << table.output;
  EXPECT_TRUE(absl::StrContains(table.output, "1.1.0-rc1")) << table.output;
  v1::GetStatsResponse by_pipeline = CtlJson<v1::GetStatsResponse>({"stats", "--by", "pipeline"});
  ASSERT_EQ(by_pipeline.rows_size(), 1);
  EXPECT_EQ(by_pipeline.rows(0).key(), "items");
  EXPECT_EQ(by_pipeline.rows(0).rows(), 8000u);
}

TEST_F(ControlPlaneTest, ChangedTopicsResubscribeAndDeletedPipelinesStop) {
  auto w = Worker("w1");
  CreateItems();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 500)).ok());
  ASSERT_TRUE(WaitFor([&] { return TablesExist() && Landed() == 500; }, absl::Seconds(60)));
  CtlResult r = Ctl({"pipelines", "update", "items", "--expected-version", "1", "--topics",
                     "items,other"});
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 2, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(kafka_->Produce("other", Items(500, 300)).ok());
  ASSERT_TRUE(WaitFor([&] { return Landed() == 800; }, absl::Seconds(60))) << Landed();
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE topic = 'other'"), 300);
  EXPECT_EQ(db_.QueryInt("SELECT count(DISTINCT (topic, kafka_partition, kafka_offset)) FROM "
                         "raw_items"),
            800);
  CtlResult del = Ctl({"pipelines", "delete", "items", "--expected-version", "2"});
  ASSERT_EQ(del.code, 0) << del.output;
  EXPECT_EQ(del.output, "deleted pipeline items\n");
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(w->process().ReadLog(), "stopped pipeline items v2");
  }, absl::Seconds(30)));
  EXPECT_EQ(Ctl({"pipelines", "get", "items"}).output,
            "sluicectl: NOT_FOUND: pipeline items not found\n");
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_controller.pipeline_history WHERE "
                         "name = 'items'"),
            3);  // v1, v2, deletion
}

TEST_F(ControlPlaneTest, OffsetsAreReadAndResetOnlyWhilePaused) {
  auto w = Worker("w1");
  CreateItems();
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 800)).ok());
  ExpectExactlyOnce(800);
  v1::GetOffsetsResponse offsets = CtlJson<v1::GetOffsetsResponse>({"offsets", "get", "items"});
  EXPECT_EQ(offsets.consumer_group(), "sluice-items");
  int64_t sum = 0;
  for (const v1::PartitionOffset& o : offsets.offsets()) sum += o.next_offset();
  EXPECT_EQ(sum, 800);
  CtlResult running = Ctl({"offsets", "reset", "items", "--topic", "items", "--partition", "0",
                           "--to", "0"});
  EXPECT_EQ(running.code, 1);
  EXPECT_EQ(running.output,
            "sluicectl: FAILED_PRECONDITION: pipeline items is running; pause it before "
            "resetting its offsets\n");
  ASSERT_EQ(Ctl({"pipelines", "pause", "items"}).code, 0);
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(w->process().ReadLog(), "stopped pipeline items");
  }, absl::Seconds(30)));
  CtlResult reset = Ctl({"offsets", "reset", "items", "--topic", "items", "--partition", "0",
                         "--to", "0"});
  ASSERT_EQ(reset.code, 0) << reset.output;
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets WHERE kafka_partition = 0"), 0);
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list"}).output, "offsets.reset"));
  CtlResult wrong_topic = Ctl({"offsets", "reset", "items", "--topic", "other", "--to", "0"});
  EXPECT_EQ(wrong_topic.output,
            "sluicectl: INVALID_ARGUMENT: topic: 'other' is not consumed by pipeline items\n");
}

// Regression (issue 7.1): pause, offsets reset --to-earliest, TRUNCATE, resume
// ingested 0 rows: the reset deleted the rows and librdkafka then fell back to
// the group's committed Kafka offsets. The reset now stores the position it means.
TEST_F(ControlPlaneTest, AReplayIngestsEverythingAgainExactlyOnce) {
  auto w = Worker("w1");
  CreateItems();
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 800, 50)).ok());
  ExpectExactlyOnce(800);
  ASSERT_EQ(Ctl({"pipelines", "pause", "items"}).code, 0);
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(w->process().ReadLog(), "stopped pipeline items");
  }, absl::Seconds(30)));
  CtlResult reset = Ctl({"offsets", "reset", "items", "--topic", "items", "--to-earliest"});
  ASSERT_EQ(reset.code, 0) << reset.output;
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_offsets WHERE next_offset = -2"), 8);
  EXPECT_TRUE(absl::StrContains(reset.output, "earliest")) << reset.output;
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list"}).output, "items:*=earliest"));
  ASSERT_EQ(db_.Exec("TRUNCATE raw_items"), "");
  ASSERT_EQ(Ctl({"pipelines", "resume", "items"}).code, 0);
  // Every row again, once; the dead letters are written again idempotently.
  ExpectExactlyOnce(800);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters"), 16);

  // --to-latest stores the end position, resolved by the worker on assign.
  ASSERT_EQ(Ctl({"pipelines", "pause", "items"}).code, 0);
  CtlResult latest = Ctl({"offsets", "reset", "items", "--topic", "items", "--to-latest"});
  ASSERT_EQ(latest.code, 0) << latest.output;
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_offsets WHERE next_offset = -1"), 8);
  EXPECT_EQ(Ctl({"offsets", "reset", "items", "--topic", "items", "--to-latest", "--to", "3"})
                .code,
            2);
}

// Issue 7.8: a pipeline that cannot ingest on a worker says why in
// `pipelines status` (here a partition whose stored offset is beyond the log end).
TEST_F(ControlPlaneTest, PipelinesStatusShowsWhyAWorkerDoesNotIngest) {
  auto w = Worker("w1");
  CreateItems();
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 80)).ok());
  ExpectExactlyOnce(80);
  ASSERT_EQ(Ctl({"pipelines", "pause", "items"}).code, 0);
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(w->process().ReadLog(), "stopped pipeline items");
  }, absl::Seconds(30)));
  ASSERT_EQ(Ctl({"offsets", "reset", "items", "--topic", "items", "--partition", "0", "--to",
                 "1000000"}).code,
            0);
  ASSERT_EQ(Ctl({"pipelines", "resume", "items"}).code, 0);
  ASSERT_TRUE(WaitFor([&] {
    v1::PipelineStatus s = CtlJson<v1::PipelineStatus>({"pipelines", "status", "items"});
    return s.workers_size() == 1 &&
           absl::StrContains(s.workers(0).problem(), "partition items/0 stalled");
  }, absl::Seconds(60))) << Ctl({"pipelines", "status", "items"}).output;
  CtlResult status = Ctl({"pipelines", "status", "items"});
  EXPECT_TRUE(absl::StrContains(status.output, "FAILING")) << status.output;
  EXPECT_TRUE(absl::StrContains(status.output, "its stored offset 1000000 is beyond the end"))
      << status.output;
}

// Issue 8: a pipeline's kafka properties reach every worker it is assigned to, and
// security.protocol=SASL_PLAINTEXT + sasl.mechanisms=GSSAPI +
// sasl.kerberos.kinit.cmd=<command> made each of them run the command. Such a
// pipeline is refused; one stored before the allowlist is never pushed, and
// `pipelines status` says why until it is updated without the property.
TEST_F(ControlPlaneTest, ForbiddenKafkaPropertiesAreRefusedAndAStoredOneIsNeverPushed) {
  const std::string marker = TestTempDir() + "/pwned";
  ::unlink(marker.c_str());
  auto exists = [&] {
    struct stat st;
    return ::stat(marker.c_str(), &st) == 0;
  };
  const std::vector<std::string> kinit = {
      "--kafka-property", "security.protocol=SASL_PLAINTEXT",
      "--kafka-property", "sasl.mechanisms=GSSAPI",
      "--kafka-property", "sasl.kerberos.kinit.cmd=touch " + marker};
  const std::string refused =
      "kafka_properties: 'sasl.kerberos.kinit.cmd' is not allowed in a pipeline (it runs a "
      "command on every worker)";
  std::vector<std::string> create = {"pipelines", "create", "x", "--topics", "items"};
  create.insert(create.end(), kinit.begin(), kinit.end());
  CtlResult r = Ctl(create);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output, "sluicectl: INVALID_ARGUMENT: " + refused + "\n");
  std::vector<std::string> validate = {"pipelines", "validate", "x", "--topics", "items"};
  validate.insert(validate.end(), kinit.begin(), kinit.end());
  r = Ctl(validate);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output, "invalid: " + refused + "\n");
  r = Ctl({"pipelines", "create", "x", "--topics", "items", "--kafka-property",
           "plugin.library.paths=/tmp/evil.so"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.output,
            "sluicectl: INVALID_ARGUMENT: kafka_properties: 'plugin.library.paths' is not allowed "
            "in a pipeline (it loads a shared library on every worker)\n");
  EXPECT_EQ(Ctl({"pipelines", "get", "x"}).output, "sluicectl: NOT_FOUND: pipeline x not found\n");

  // A pipeline stored before the allowlist: written straight into the controller's
  // database, and read by the controller when it starts again.
  auto w = Worker("w1");
  CreateItems();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  v1::PipelineConfig old = CtlJson<v1::Pipeline>({"pipelines", "get", "items"}).config();
  old.set_name("old");
  old.set_consumer_group("sluice-old");
  old.mutable_target()->set_table("old_items");
  (*old.mutable_kafka_properties())["security.protocol"] = "SASL_PLAINTEXT";
  (*old.mutable_kafka_properties())["sasl.mechanisms"] = "GSSAPI";
  (*old.mutable_kafka_properties())["sasl.kerberos.kinit.cmd"] = "touch " + marker;
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(old, &json, options).ok());
  ASSERT_EQ(json.find('\''), std::string::npos) << json;
  ASSERT_EQ(db_.Exec("INSERT INTO sluice_controller.pipelines (name, version, paused, config) "
                     "VALUES ('old', 1, false, '" + json + "'::jsonb)"),
            "");
  controller_->process().Signal(SIGKILL);
  ASSERT_TRUE(controller_->process().Wait(absl::Seconds(10)).has_value());
  ASSERT_TRUE(controller_->Restart().ok());
  const std::string reason =
      "not assigned to any worker: " + refused +
      "; update the pipeline without it (pipelines update --remove-kafka-property NAME)";
  v1::PipelineStatus status = CtlJson<v1::PipelineStatus>({"pipelines", "status", "old"});
  EXPECT_EQ(status.not_assigned_reason(), reason);
  EXPECT_EQ(status.workers_size(), 0);
  CtlResult text = Ctl({"pipelines", "status", "old"});
  EXPECT_TRUE(absl::StrContains(text.output, "\n" + reason + "\n")) << text.output;
  // The worker is back on the restarted controller and runs only items.
  ASSERT_TRUE(WaitFor([&] {
    std::optional<v1::WorkerInfo> info = TryCtlJson<v1::WorkerInfo>({"workers", "get", "w1"});
    return info.has_value() && info->connected() && info->pending_config_version().empty() &&
           !info->applied_config_version().empty();
  }, absl::Seconds(30)));
  v1::WorkerInfo info = CtlJson<v1::WorkerInfo>({"workers", "get", "w1"});
  EXPECT_EQ(std::vector<std::string>(info.pipelines().begin(), info.pipelines().end()),
            std::vector<std::string>{"items"});
  EXPECT_EQ(info.last_nack(), "");
  EXPECT_TRUE(CtlJson<v1::PipelineStatus>({"pipelines", "status", "items"})
                  .not_assigned_reason()
                  .empty());
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 500)).ok());
  ExpectExactlyOnce(500);
  EXPECT_FALSE(absl::StrContains(w->process().ReadLog(), "pipeline old")) << w->process().ReadLog();
  EXPECT_FALSE(exists()) << marker << " was created: the kinit command ran";

  // Updated without the properties, it is assigned and runs.
  r = Ctl({"pipelines", "update", "old", "--expected-version", "1", "--remove-kafka-property",
           "sasl.kerberos.kinit.cmd", "--remove-kafka-property", "sasl.mechanisms",
           "--remove-kafka-property", "security.protocol"});
  ASSERT_EQ(r.code, 0) << r.output;
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("old", 2, 1); }, absl::Seconds(30)))
      << Ctl({"pipelines", "status", "old"}).output;
  EXPECT_TRUE(CtlJson<v1::PipelineStatus>({"pipelines", "status", "old"})
                  .not_assigned_reason()
                  .empty());
  r = Ctl({"pipelines", "update", "old", "--expected-version", "2", "--remove-kafka-property",
           "sasl.kerberos.kinit.cmd"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(absl::StrContains(
      r.output, "--remove-kafka-property: the pipeline has no property 'sasl.kerberos.kinit.cmd'"))
      << r.output;
  EXPECT_FALSE(exists());
}

// Issue 8, secure by default: without authentication the controller refuses to
// listen beyond loopback unless told to accept that.
TEST_F(ControlPlaneTest, ANonLoopbackListenNeedsAllowUnauthenticated) {
  const std::string address = absl::StrCat("0.0.0.0:", PickFreePort());
  std::vector<std::string> argv = {RunfilePath("controller/sluice-controller"), "--listen",
                                   address, "--db-host", db_.host, "--db-port",
                                   std::to_string(db_.port), "--db-user", db_.user, "--db-name",
                                   db_.dbname, "--metrics-address",
                                   absl::StrCat("127.0.0.1:", PickFreePort())};
  absl::StatusOr<Subprocess> refused =
      Subprocess::Start(argv, absl::StrCat(TestTempDir(), "/refused-controller.log"));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(refused->Wait(absl::Seconds(20)), 2);
  EXPECT_EQ(refused->ReadLog(),
            absl::StrCat("sluice-controller: --listen ", address,
                         " is not a loopback address, and the controller has no authentication: "
                         "anyone who can reach it could change what every worker runs; give "
                         "--auth-tokens-file (and TLS), listen on loopback, or accept that with "
                         "--allow-unauthenticated (see --help)\n"));
  argv.push_back("--allow-unauthenticated");
  absl::StatusOr<Subprocess> allowed =
      Subprocess::Start(argv, absl::StrCat(TestTempDir(), "/allowed-controller.log"));
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(allowed->ReadLog(), "--allow-unauthenticated: anyone who can reach");
  }, absl::Seconds(30))) << allowed->ReadLog();
  allowed->Signal(SIGTERM);
  EXPECT_EQ(allowed->Wait(absl::Seconds(20)), 0);
}

// Issue 8, limits on input: every string and repeated field of the admin API has a
// bound (common/admin_limits.h); past it the controller answers INVALID_ARGUMENT
// naming the field and stores nothing.
TEST_F(ControlPlaneTest, OversizedAdminInputsAreRefusedNamingTheFieldAndChangeNothing) {
  CreateItems();
  ASSERT_EQ(Ctl({"flags", "create", "kafka-ingest"}).code, 0);
  auto stub = v1::Admin::NewStub(grpc::CreateCustomChannel(
      controller_->address(), grpc::InsecureChannelCredentials(), SluiceChannelArguments()));
  auto stored = [&] {
    grpc::ClientContext c1, c2, c3;
    v1::ListPipelinesResponse pipelines;
    v1::ListFlagsResponse flags;
    v1::ListAuditRequest audit_req;
    audit_req.set_limit(10000);
    v1::ListAuditResponse audit;
    EXPECT_TRUE(stub->ListPipelines(&c1, {}, &pipelines).ok());
    EXPECT_TRUE(stub->ListFlags(&c2, {}, &flags).ok());
    EXPECT_TRUE(stub->ListAudit(&c3, audit_req, &audit).ok());
    return pipelines.DebugString() + flags.DebugString() + audit.DebugString();
  };
  const std::string before = stored();
  v1::PipelineConfig items = CtlJson<v1::Pipeline>({"pipelines", "get", "items"}).config();
  auto pipeline = [&](std::function<void(v1::PipelineConfig*)> mutate) {
    v1::PipelineConfig c;
    c.set_name("x");
    c.add_topics("items");
    mutate(&c);
    return c;
  };
  struct Case {
    std::string what;
    std::function<grpc::Status(grpc::ClientContext*)> call;
    std::string message;
  };
  const std::string mib(1 << 20, 'a');
  const std::vector<Case> cases = {
      {"create pipeline, long name",
       [&](auto* ctx) {
         v1::CreatePipelineRequest r;
         *r.mutable_config() = pipeline([](auto* c) { c->set_name(std::string(64, 'p')); });
         v1::Pipeline out;
         return stub->CreatePipeline(ctx, r, &out);
       },
       "name: must be at most 63 bytes (got 64)"},
      {"create pipeline, 101 topics",
       [&](auto* ctx) {
         v1::CreatePipelineRequest r;
         *r.mutable_config() = pipeline([](auto* c) {
           for (int i = 0; i < 100; ++i) c->add_topics("t" + std::to_string(i));
         });
         v1::Pipeline out;
         return stub->CreatePipeline(ctx, r, &out);
       },
       "topics: must be at most 100 (got 101)"},
      {"create pipeline, 65 properties",
       [&](auto* ctx) {
         v1::CreatePipelineRequest r;
         *r.mutable_config() = pipeline([](auto* c) {
           for (int i = 0; i < 65; ++i) (*c->mutable_kafka_properties())["p" + std::to_string(i)] = "1";
         });
         v1::Pipeline out;
         return stub->CreatePipeline(ctx, r, &out);
       },
       "kafka_properties: must have at most 64 entries (got 65)"},
      {"update pipeline, long property value",
       [&](auto* ctx) {
         v1::UpdatePipelineRequest r;
         *r.mutable_config() = items;
         (*r.mutable_config()->mutable_kafka_properties())["fetch.wait.max.ms"] =
             std::string(4097, '5');
         r.set_expected_version(1);
         v1::Pipeline out;
         return stub->UpdatePipeline(ctx, r, &out);
       },
       "kafka_properties[fetch.wait.max.ms]: must be at most 4096 bytes (got 4097)"},
      {"update pipeline, long legacy table",
       [&](auto* ctx) {
         v1::UpdatePipelineRequest r;
         *r.mutable_config() = items;
         r.mutable_config()->mutable_rollout()->set_flag("kafka-ingest");
         r.mutable_config()->mutable_rollout()->set_kafka_key(true);
         r.mutable_config()->mutable_rollout()->set_legacy_table(std::string(128, 'l'));
         r.set_expected_version(1);
         v1::Pipeline out;
         return stub->UpdatePipeline(ctx, r, &out);
       },
       "rollout.legacy_table: must be at most 127 bytes (got 128)"},
      {"get pipeline, 1 MiB name",
       [&](auto* ctx) {
         v1::GetPipelineRequest r;
         r.set_name(mib);
         v1::Pipeline out;
         return stub->GetPipeline(ctx, r, &out);
       },
       "name: must be at most 63 bytes (got 1048576)"},
      {"delete pipeline, long name",
       [&](auto* ctx) {
         v1::DeletePipelineRequest r;
         r.set_name(std::string(64, 'p'));
         r.set_expected_version(1);
         v1::DeletePipelineResponse out;
         return stub->DeletePipeline(ctx, r, &out);
       },
       "name: must be at most 63 bytes (got 64)"},
      {"create flag, long description",
       [&](auto* ctx) {
         v1::CreateFlagRequest r;
         r.set_name("f2");
         r.set_description(std::string(1025, 'd'));
         v1::Flag out;
         return stub->CreateFlag(ctx, r, &out);
       },
       "description: must be at most 1024 bytes (got 1025)"},
      {"create flag, long salt",
       [&](auto* ctx) {
         v1::CreateFlagRequest r;
         r.set_name("f2");
         r.set_salt(std::string(64, 's'));
         v1::Flag out;
         return stub->CreateFlag(ctx, r, &out);
       },
       "salt: must be at most 63 bytes (got 64)"},
      {"set flag, long name",
       [&](auto* ctx) {
         v1::SetFlagRequest r;
         r.set_name(std::string(64, 'f'));
         r.set_expected_version(1);
         v1::Flag out;
         return stub->SetFlag(ctx, r, &out);
       },
       "name: must be at most 63 bytes (got 64)"},
      {"drain worker, long id",
       [&](auto* ctx) {
         v1::DrainWorkerRequest r;
         r.set_worker_id(std::string(64, 'w'));
         v1::WorkerInfo out;
         return stub->DrainWorker(ctx, r, &out);
       },
       "worker_id: must be at most 63 bytes (got 64)"},
      {"audit, long target",
       [&](auto* ctx) {
         v1::ListAuditRequest r;
         r.set_target(std::string(64, 't'));
         v1::ListAuditResponse out;
         return stub->ListAudit(ctx, r, &out);
       },
       "target: must be at most 63 bytes (got 64)"},
      {"reset offsets, long topic",
       [&](auto* ctx) {
         v1::ResetOffsetsRequest r;
         r.set_pipeline("items");
         r.set_topic(std::string(250, 't'));
         v1::GetOffsetsResponse out;
         return stub->ResetOffsets(ctx, r, &out);
       },
       "topic: must be at most 249 bytes (got 250)"},
  };
  for (const Case& k : cases) {
    grpc::ClientContext ctx;
    grpc::Status s = k.call(&ctx);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << k.what;
    EXPECT_EQ(s.error_message(), k.message) << k.what;
  }
  // Past the client's message bound the request is not even sent.
  grpc::ClientContext ctx;
  v1::CreateFlagRequest huge;
  huge.set_name("f3");
  huge.set_description(std::string(kMaxGrpcMessageBytes + 1, 'd'));
  v1::Flag out;
  grpc::Status s = stub->CreateFlag(&ctx, huge, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_EQ(stored(), before);
}

// Issue 8, secrets: a password given to the worker (from a file) and one an
// operator tries to put in a pipeline never show up in any output surface: logs,
// /metrics, sluicectl's answers, or the controller's database.
TEST_F(ControlPlaneTest, APlantedSecretAppearsInNoOutputSurface) {
  const std::string secret = "planted-s3cret-4c1d";
  const std::string file = absl::StrCat(TestTempDir(), "/db-password");
  {
    std::ofstream out(file);
    out << secret << "\n";
  }
  auto w = Worker("w1", {"--db-password-file", file});
  CreateItems();
  // Refused, and never stored.
  CtlResult refused = Ctl({"pipelines", "create", "leaky", "--topics", "items",
                           "--kafka-property", absl::StrCat("sasl.password=", secret)});
  EXPECT_EQ(refused.code, 1) << refused.output;
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 100)).ok());
  ExpectExactlyOnce(100);
  std::vector<std::pair<std::string, std::string>> surfaces = {
      {"worker log", w->process().ReadLog()},
      {"worker /metrics", w->HttpGet("/metrics")},
      {"worker /ready", w->HttpGet("/ready")},
      {"controller log", controller_->process().ReadLog()},
      {"controller /metrics", HttpGet(controller_->metrics_port(), "/metrics")},
      {"refused create", refused.output},
  };
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--json", "pipelines", "list"},
                                             {"--json", "pipelines", "get", "items"},
                                             {"--json", "pipelines", "status", "items"},
                                             {"--json", "workers", "list"},
                                             {"--json", "audit", "list"},
                                             {"--json", "stats"}}) {
    surfaces.push_back({absl::StrJoin(args, " "), Ctl(args).output});
  }
  // Every row of every table the controller and the workers keep, as text.
  const std::string dump_sql =
      "SELECT coalesce(string_agg(t, ' '), '') FROM ("
      "SELECT row_to_json(p)::text AS t FROM sluice_controller.pipelines p UNION ALL "
      "SELECT row_to_json(h)::text FROM sluice_controller.pipeline_history h UNION ALL "
      "SELECT row_to_json(a)::text FROM sluice_controller.audit a UNION ALL "
      "SELECT row_to_json(o)::text FROM sluice_offsets o) x";
  EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM (", dump_sql, ") d WHERE d.coalesce "
                                      "LIKE '%", secret, "%'")),
            0);
  EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM (", dump_sql, ") d WHERE d.coalesce "
                                      "LIKE '%items%'")),
            1);  // the dump does read the tables
  for (const auto& [name, text] : surfaces) {
    EXPECT_FALSE(absl::StrContains(text, secret)) << name << " shows the secret:\n" << text;
    EXPECT_FALSE(text.empty()) << name << " is empty: the check would prove nothing";
  }
}

}  // namespace
}  // namespace sluice::testing
