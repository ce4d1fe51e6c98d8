// Percentage rollouts end to end: a flag ramps while items flow; every item lands
// on exactly one path, the one its own Kafka timestamp says.
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "flags/flag_client.h"
#include "flags/flag_schedule.h"
#include "flags/routing_key.h"
#include "gtest/gtest.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "sluice/v1/flags.grpc.pb.h"
#include "tests/integration/control_plane_test_base.h"

namespace sluice::testing {
namespace {

struct Row {
  bool kafka_path;  // raw_items (true) or legacy_items (false)
  int project;
  int seq;
  absl::Time timestamp;
};

class RolloutTest : public ControlPlaneTest {
 protected:
  void CreateFlag() {
    CtlResult r = Ctl({"flags", "create", "kafka-ingest", "--description", "move items to Kafka"});
    ASSERT_EQ(r.code, 0) << r.output;
  }

  // Sets the flag `in` from now; returns the flag's new version.
  v1::Flag Set(const std::string& percent, const std::string& in, uint64_t expected) {
    return SetFlag("kafka-ingest", percent, in, expected);
  }

  // Both workers route with flag version `version`.
  void WaitForFlag(const std::vector<WorkerProcess*>& workers, uint64_t version) {
    ASSERT_TRUE(WaitFor([&] {
      for (WorkerProcess* w : workers) {
        if (!absl::StrContains(w->process().ReadLog(),
                               absl::StrCat("flag kafka-ingest now at v", version))) {
          return false;
        }
      }
      return true;
    }, absl::Seconds(30))) << "flag v" << version << " did not reach every worker";
  }

  std::vector<Row> Rows(bool with_legacy) {
    std::vector<Row> out;
    pqxx::connection c(db_.ConnectionString());
    pqxx::nontransaction tx(c);
    std::string sql =
        "SELECT true, (payload->>'project_id')::int, (payload->>'seq')::int, "
        "(extract(epoch FROM kafka_timestamp) * 1000)::bigint FROM raw_items";
    if (with_legacy) {
      sql += " UNION ALL SELECT false, (payload->>'project_id')::int, (payload->>'seq')::int, "
             "(extract(epoch FROM kafka_timestamp) * 1000)::bigint FROM legacy_items";
    }
    for (const pqxx::row& r : tx.exec(sql)) {
      out.push_back({r[0].as<bool>(), r[1].as<int>(), r[2].as<int>(),
                     absl::FromUnixMillis(r[3].as<int64_t>())});
    }
    return out;
  }

  v1::Flag CurrentFlag() { return CtlJson<v1::Flag>({"flags", "get", "kafka-ingest"}); }
};

TEST_F(RolloutTest, RampAndRollbackWithALegacyTablePutEachItemInExactlyOneTable) {
  CreateFlag();
  auto w1 = Worker("w1");
  auto w2 = Worker("w2");
  CreateItems({"--desired-workers", "2", "--rollout-flag", "kafka-ingest", "--routing-key",
               "json:project_id", "--legacy", "table:legacy_items"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 2); }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] {
    return w1->HttpGet("/ready") == "200 ready\n" && w2->HttpGet("/ready") == "200 ready\n";
  }, absl::Seconds(60)));

  // 0 → 25 → 50 → 100 %, a change every 3 s, then back to 50 %.
  v1::Flag f = Set("25", "4s", 1);
  f = Set("50", "7s", f.version());
  f = Set("100", "10s", f.version());
  ASSERT_EQ(f.schedule_size(), 3);
  const absl::Time top = ToAbslTime(f.schedule(2).effective_time());
  WaitForFlag({w1.get(), w2.get()}, f.version());

  // Produce continuously, stamped with the real time, across every change.
  int seq = 0;
  absl::Time rollback_at = absl::InfiniteFuture();
  const absl::Time end = top + absl::Seconds(6);
  while (absl::Now() < end) {
    if (rollback_at == absl::InfiniteFuture() && absl::Now() > top + absl::Seconds(0.5)) {
      CtlResult r = Ctl({"--json", "flags", "rollback", "kafka-ingest", "--expected-version",
                         absl::StrCat(f.version())});
      ASSERT_EQ(r.code, 0) << r.output;
      rollback_at = absl::Now() + flag_lead_;
    }
    std::vector<DevKafka::Record> chunk;
    for (int i = 0; i < 150; ++i) chunk.push_back(Item(seq++, absl::Now()));
    ASSERT_TRUE(kafka_->ProduceRecords("items", chunk).ok());
    absl::SleepFor(absl::Milliseconds(100));
  }
  const int produced = seq;
  ASSERT_TRUE(WaitFor([&] {
    return db_.QueryInt("SELECT (SELECT count(*) FROM raw_items) + "
                        "(SELECT count(*) FROM legacy_items)") >= produced;
  }, absl::Seconds(60)));

  // Exactly once, in exactly one table.
  EXPECT_EQ(db_.QueryInt("SELECT (SELECT count(*) FROM raw_items) + "
                         "(SELECT count(*) FROM legacy_items)"),
            produced);
  EXPECT_EQ(db_.QueryInt("SELECT count(DISTINCT (kafka_partition, kafka_offset)) FROM (SELECT "
                         "kafka_partition, kafka_offset FROM raw_items UNION ALL SELECT "
                         "kafka_partition, kafka_offset FROM legacy_items) u"),
            produced);
  EXPECT_EQ(db_.QueryInt("SELECT coalesce(sum(next_offset), 0) FROM sluice_offsets"), produced);

  // Each in the table its own timestamp says, per the final schedule.
  const flags::FlagSchedule schedule(CurrentFlag());
  std::vector<Row> rows = Rows(/*with_legacy=*/true);
  ASSERT_EQ(static_cast<int>(rows.size()), produced);
  std::map<uint32_t, int> kafka_by_percent, total_by_percent;
  int misplaced = 0;
  for (const Row& r : rows) {
    const flags::Evaluation e = schedule.Evaluate(absl::StrCat(r.project), r.timestamp);
    if (e.in_rollout != r.kafka_path) ++misplaced;
    ++total_by_percent[e.basis_points];
    if (r.kafka_path) ++kafka_by_percent[e.basis_points];
  }
  EXPECT_EQ(misplaced, 0);
  // Every stage of the ramp saw items, and the split follows the percentage.
  for (uint32_t bp : {0u, 2500u, 5000u, 10000u}) {
    EXPECT_GT(total_by_percent[bp], 100) << bp;
  }
  EXPECT_EQ(kafka_by_percent[0], 0);
  EXPECT_EQ(kafka_by_percent[10000], total_by_percent[10000]);

  // During the rising ramp no key went back to legacy.
  std::sort(rows.begin(), rows.end(),
            [](const Row& a, const Row& b) { return a.timestamp < b.timestamp; });
  std::set<int> on_kafka;
  int moved_back = 0;
  for (const Row& r : rows) {
    if (r.timestamp >= rollback_at - absl::Seconds(1)) break;
    if (r.kafka_path) {
      on_kafka.insert(r.project);
    } else if (on_kafka.count(r.project)) {
      ++moved_back;
    }
  }
  EXPECT_EQ(moved_back, 0);

  // Per-path counts in the metrics.
  // The loop counts a batch when its writer's commit reaches it, a moment after
  // the rows are visible: wait for the counter, then check it exactly.
  WaitFor(
      [&] {
        return w1->Metric("sluice_items_total{path=\"kafka\",pipeline=\"items\"}") +
                   w2->Metric("sluice_items_total{path=\"kafka\",pipeline=\"items\"}") ==
               db_.QueryInt("SELECT count(*) FROM raw_items");
      },
      absl::Seconds(10));
  WaitFor(
      [&] {
        return w1->Metric("sluice_items_total{path=\"legacy\",pipeline=\"items\"}") +
                   w2->Metric("sluice_items_total{path=\"legacy\",pipeline=\"items\"}") ==
               db_.QueryInt("SELECT count(*) FROM legacy_items");
      },
      absl::Seconds(10));
  const double kafka_items = w1->Metric("sluice_items_total{path=\"kafka\",pipeline=\"items\"}") +
                             w2->Metric("sluice_items_total{path=\"kafka\",pipeline=\"items\"}");
  const double legacy_items =
      w1->Metric("sluice_items_total{path=\"legacy\",pipeline=\"items\"}") +
      w2->Metric("sluice_items_total{path=\"legacy\",pipeline=\"items\"}");
  EXPECT_EQ(kafka_items, db_.QueryInt("SELECT count(*) FROM raw_items"));
  EXPECT_EQ(legacy_items, db_.QueryInt("SELECT count(*) FROM legacy_items"));
  // And in the stats stream, side by side by path.
  ASSERT_TRUE(WaitFor([&] {
    std::optional<v1::GetStatsResponse> s =
        TryCtlJson<v1::GetStatsResponse>({"stats", "--by", "path", "--window", "10m"});
    return s && s->rows_size() == 2 && s->rows(0).rows() == static_cast<uint64_t>(kafka_items) &&
           s->rows(1).rows() == static_cast<uint64_t>(legacy_items) &&
           s->rows(0).freshness_p99_ms() > 0 && s->rows(1).freshness_p99_ms() > 0 &&
           s->rows(0).write_latency_p99_ms() > 0 && s->rows(1).write_latency_p99_ms() > 0;
  }, absl::Seconds(20)));
  CtlResult table = Ctl({"stats", "--by", "path"});
  EXPECT_TRUE(absl::StrContains(table.output, "P99 FRESHNESS MS")) << table.output;
}

TEST_F(RolloutTest, SkipWritesExactlyTheInRolloutItemsByTimestamp) {
  CreateFlag();
  auto w = Worker("w1");
  CreateItems({"--rollout-flag", "kafka-ingest", "--routing-key", "kafka-key", "--legacy",
               "skip"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  // Whole milliseconds, as Kafka stores timestamps: otherwise the expectation below
  // judges an item by its microseconds while the worker sees them truncated, and
  // an item in the same millisecond as a change lands on the other side of it.
  const absl::Time t0 = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  v1::Flag f = Set("30", "3s", 1);
  f = Set("70", "6s", f.version());
  WaitForFlag({w.get()}, f.version());
  // Items stamped across the schedule (the worker already holds every change).
  std::vector<DevKafka::Record> records;
  for (int i = 0; i < 3000; ++i) records.push_back(Item(i, t0 + absl::Milliseconds(3 * i)));
  ASSERT_TRUE(kafka_->ProduceRecords("items", records).ok());
  const flags::FlagSchedule schedule(CurrentFlag());
  std::set<int> expected;
  for (int i = 0; i < 3000; ++i) {
    if (schedule.Evaluate(records[i].key, records[i].timestamp).in_rollout) expected.insert(i);
  }
  ASSERT_GT(expected.size(), 500u);
  ASSERT_LT(expected.size(), 2500u);
  // All 3000 offsets are accounted for; only the in-rollout items are rows.
  ASSERT_TRUE(WaitFor([&] {
    return TablesExist() &&
           db_.QueryInt("SELECT coalesce(sum(next_offset), 0) FROM sluice_offsets") == 3000;
  }, absl::Seconds(60)));
  std::set<int> got;
  for (const Row& r : Rows(/*with_legacy=*/false)) got.insert(r.seq);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), static_cast<int64_t>(expected.size()));
  WaitFor(
      [&] {
        return w->Metric("sluice_items_total{path=\"legacy\",pipeline=\"items\"}") ==
               3000 - static_cast<double>(expected.size());
      },
      absl::Seconds(10));
  EXPECT_EQ(w->Metric("sluice_items_total{path=\"legacy\",pipeline=\"items\"}"),
            3000 - static_cast<double>(expected.size()));
}

// Issue 11: a mapped pipeline under a rollout keyed by a JSON field reads each
// payload once, for the routing key and the columns; every item lands in exactly
// one of the user's tables, the one its key gives. Rows both tables refused are
// replayed, after the tables are fixed, into the table of the path they were on;
// one left unrouted is routed by the flag as of its timestamp, and one written
// before dead letters kept paths stays pending with the reason.
TEST_F(RolloutTest, AMappedPipelineIsRoutedByTheFieldItAlsoMapsAndItsDeadLettersReplayed) {
  CreateFlag();
  auto w = Worker("w1");
  for (const char* table : {"views", "legacy_views"}) {
    ASSERT_EQ(db_.Exec(absl::StrCat("CREATE TABLE ", table,
                                    " (seq bigint PRIMARY KEY, project integer NOT NULL, "
                                    "at timestamptz NOT NULL, CONSTRAINT ",
                                    table, "_no_threes CHECK (seq % 10 <> 3))")),
              "");
  }
  CreateItems({"--table", "views", "--column", "seq=/seq:bigint", "--column",
               "project=/project_id:integer", "--column", "at=timestamp:timestamptz",
               "--rollout-flag", "kafka-ingest", "--routing-key", "json:project_id", "--legacy",
               "table:legacy_views"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  v1::Flag f = Set("40", "3s", 1);
  WaitForFlag({w.get()}, f.version());
  // Whole milliseconds from the change on, as Kafka stores them.
  const absl::Time at = ToAbslTime(f.schedule(0).effective_time());
  std::vector<DevKafka::Record> records;
  for (int i = 0; i < 2000; ++i) records.push_back(Item(i, at + absl::Milliseconds(i)));
  ASSERT_TRUE(kafka_->ProduceRecords("items", records).ok());
  auto count = [&](const std::string& sql) {
    return db_.QueryInt(absl::StrCat("SELECT count(*) FROM ", sql));
  };
  ASSERT_TRUE(WaitFor(
      [&] { return count("views") + count("legacy_views") + count("sluice_dead_letters") >= 2000; },
      absl::Seconds(60)));
  // The path each item's key gives, computed as any other evaluator would.
  const flags::FlagSchedule schedule(CurrentFlag());
  v1::Rollout rollout;
  rollout.set_json_field("project_id");
  rollout.set_key_form(v1::ROUTING_KEY_FORM_RAW_JSON);
  auto in_rollout = [&](const DevKafka::Record& r) {
    return schedule.Evaluate(flags::RoutingKeyOf(rollout, r.key, r.value), r.timestamp).in_rollout;
  };
  std::set<int> expected;
  for (int i = 0; i < 2000; ++i) {
    if (in_rollout(records[i])) expected.insert(i);
  }
  ASSERT_GT(expected.size(), 200u);
  ASSERT_LT(expected.size(), 1800u);
  auto seqs = [&](const std::string& table) {
    std::set<int> got;
    pqxx::connection c(db_.ConnectionString());
    pqxx::nontransaction tx(c);
    for (const pqxx::row& r : tx.exec(absl::StrCat(
             "SELECT seq FROM ", table, " WHERE project = seq % 120 AND at IS NOT NULL"))) {
      got.insert(r[0].as<int>());
    }
    return got;
  };
  std::set<int> landed;
  for (int seq : expected) {
    if (seq % 10 != 3) landed.insert(seq);
  }
  EXPECT_EQ(seqs("views"), landed);
  EXPECT_EQ(count("views") + count("legacy_views"), 1800);
  EXPECT_EQ(count("sluice_dead_letters WHERE sqlstate = '23514'"), 200);
  EXPECT_EQ(count("sluice_dead_letters WHERE rollout_path = 'kafka'"),
            static_cast<int64_t>(expected.size() - landed.size()));
  EXPECT_EQ(count("views v JOIN legacy_views l USING (seq)"), 0);

  // One left unrouted (its worker did not know the schedule that far) and one from
  // before dead letters kept paths.
  const DevKafka::Record unrouted = Item(5000, at + absl::Seconds(1));
  ASSERT_EQ(db_.Exec(absl::StrCat(
                "INSERT INTO sluice_dead_letters (consumer_group, topic, kafka_partition, "
                "kafka_offset, kafka_key, payload, error, kafka_timestamp) SELECT consumer_group, "
                "topic, 99, 5000, '",
                unrouted.key, "', '", unrouted.value,
                "', 'timestamp beyond the known schedule', to_timestamp(",
                absl::ToUnixMillis(unrouted.timestamp),
                " / 1000.0) FROM sluice_dead_letters "
                "LIMIT 1; INSERT INTO sluice_dead_letters (consumer_group, topic, "
                "kafka_partition, kafka_offset, kafka_key, payload, error) SELECT "
                "consumer_group, topic, 99, 5001, 'p1', '{\"project_id\":1,\"seq\":5001}', "
                "'old' FROM sluice_dead_letters LIMIT 1")),
            "");
  if (in_rollout(unrouted)) expected.insert(5000);
  ASSERT_EQ(db_.Exec("ALTER TABLE views DROP CONSTRAINT views_no_threes; ALTER TABLE "
                     "legacy_views DROP CONSTRAINT legacy_views_no_threes"),
            "");
  CtlResult r = Ctl({"deadletters", "replay", "items", "--all"});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "replayed 201 of 202")) << r.output;
  EXPECT_TRUE(absl::StrContains(r.output, "1 left pending, not attempted; the first: offset "))
      << r.output;
  EXPECT_EQ(seqs("views"), expected);
  EXPECT_EQ(count("views") + count("legacy_views"), 2001);
  EXPECT_EQ(count("views v JOIN legacy_views l USING (seq)"), 0);
  EXPECT_EQ(count("legacy_views WHERE seq = 5000") + count("views WHERE seq = 5000"), 1);
  // Left as it was, its own reason kept.
  EXPECT_EQ(count("sluice_dead_letters WHERE state = 'pending' AND kafka_offset = 5001 AND "
                  "error = 'old'"),
            1);
  v1::ListDeadLettersResponse listed =
      CtlJson<v1::ListDeadLettersResponse>({"deadletters", "list", "items", "--state", "replayed"});
  ASSERT_GT(listed.dead_letters_size(), 0);
  EXPECT_TRUE(listed.dead_letters(0).has_timestamp());
}

// sluice-produce, playing the API tier, decides each item's path with the shared
// library; the workers decide the same for every item.
TEST_F(RolloutTest, ProducerAndWorkersAgreeOnEveryItem) {
  CreateFlag();
  auto w = Worker("w1");
  CreateItems({"--rollout-flag", "kafka-ingest", "--routing-key", "kafka-key", "--legacy",
               "table:legacy_items"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  v1::Flag f = Set("40", "2s", 1);
  WaitForFlag({w.get()}, f.version());
  absl::StatusOr<int> rc = RunCommand(
      {RunfilePath("tools/produce/sluice-produce"), "--brokers", kafka_->bootstrap(), "--topic",
       "items", "--projects", "300", "--rate", "2000", "--duration", "4s", "--controller",
       controller_->address(), "--flag", "kafka-ingest"},
      TestTempDir() + "/produce.out", absl::Seconds(60));
  ASSERT_TRUE(rc.ok());
  ASSERT_EQ(*rc, 0);
  std::ifstream in(TestTempDir() + "/produce.out");
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  int64_t produced = 0, api_kafka = 0, api_legacy = 0;
  ASSERT_EQ(std::sscanf(last.c_str(), "{\"produced\":%ld,\"kafka_path\":%ld,\"legacy_path\":%ld}",
                        &produced, &api_kafka, &api_legacy),
            3)
      << last;
  ASSERT_GT(api_kafka, 0);
  ASSERT_GT(api_legacy, 0);
  ASSERT_TRUE(WaitFor([&] {
    return db_.QueryInt("SELECT (SELECT count(*) FROM raw_items) + "
                        "(SELECT count(*) FROM legacy_items)") >= produced;
  }, absl::Seconds(60)));
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), api_kafka);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM legacy_items"), api_legacy);
}

// A guarded ramp moves on while the Kafka path is healthy; dead letters injected
// above the guard halt it and roll it back to the last percentage that held.
TEST_F(RolloutTest, GuardBreachedByDeadLettersHaltsTheRampAndRollsBack) {
  CreateFlag();
  auto w = Worker("w1");
  CreateItems({"--rollout-flag", "kafka-ingest", "--routing-key", "kafka-key", "--legacy",
               "skip"});
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] { return w->HttpGet("/ready") == "200 ready\n"; }, absl::Seconds(60)));
  CtlResult ramp = Ctl({"flags",
                        "ramp",
                        "kafka-ingest",
                        "--to",
                        "100",
                        "--step",
                        "25",
                        "--every",
                        "3s",
                        "--guard-window",
                        "3s",
                        "--max-dead-letter-rate",
                        "0.05",
                        "--rollback-on-breach",
                        "--min-items",
                        "50",
                        "--min-batches",
                        "2",
                        "--expected-version",
                        "1"});
  ASSERT_EQ(ramp.code, 0) << ramp.output;
  int seq = 0;
  auto produce = [&](int n, bool valid) {
    std::vector<DevKafka::Record> chunk;
    for (int i = 0; i < n; ++i) {
      DevKafka::Record r = Item(seq++, absl::Now());
      if (!valid) r.value = "{\"project_id\": broken";
      chunk.push_back(r);
    }
    return kafka_->ProduceRecords("items", chunk);
  };
  // Healthy traffic: the ramp takes at least one step past 25%.
  ASSERT_TRUE(WaitFor([&] {
    EXPECT_TRUE(produce(100, true).ok());
    return CurrentFlag().ramp().last_good_basis_points() >= 2500;
  }, absl::Seconds(30), absl::Milliseconds(200)));
  EXPECT_EQ(CurrentFlag().ramp().state(), v1::Ramp::STATE_RUNNING);
  const uint32_t last_good = CurrentFlag().ramp().last_good_basis_points();
  // Now most items are broken: the dead-letter guard breaks.
  ASSERT_TRUE(WaitFor([&] {
    EXPECT_TRUE(produce(100, false).ok());
    return CurrentFlag().ramp().state() == v1::Ramp::STATE_HALTED;
  }, absl::Seconds(30), absl::Milliseconds(200)));
  v1::Flag f = CurrentFlag();
  EXPECT_TRUE(absl::StartsWith(f.ramp().halt_reason(), "dead-letter rate ")) << f.ramp().halt_reason();
  EXPECT_GE(f.ramp().last_good_basis_points(), last_good);
  // Rolled back: once the lead has passed, the last good percentage is in effect.
  const flags::FlagSchedule schedule(f);
  EXPECT_EQ(schedule.BasisPointsAt(absl::Now() + absl::Seconds(10)),
            f.ramp().last_good_basis_points());
  EXPECT_LT(schedule.BasisPointsAt(absl::Now() + absl::Seconds(10)), 10000u);
  CtlResult status = Ctl({"flags", "status", "kafka-ingest"});
  EXPECT_TRUE(absl::StrContains(status.output, "halted: dead-letter rate")) << status.output;
  // The worker acknowledged the halted flag's version (issue 10: flags status
  // shows who holds it).
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::FlagHolders h = CtlJson<v1::FlagHolders>({"flags", "holders", "kafka-ingest"});
        return h.holders_size() == 1 && h.holders(0).id() == "w1" &&
               h.holders(0).kind() == v1::FlagHolder::KIND_WORKER && h.holders(0).acknowledged() &&
               h.holders(0).version() == h.version();
      },
      absl::Seconds(15)));
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list"}).output, "flag.ramp.halt"));
  // The controller's metrics show the halt and, after the lead, the rolled-back percentage.
  const int port = controller_->metrics_port();
  ASSERT_TRUE(WaitFor([&] {
    return ScrapeMetric(port, "sluice_controller_ramp_state{flag=\"kafka-ingest\",state=\"halted\"}") == 1 &&
           ScrapeMetric(port, "sluice_controller_flag_percent{flag=\"kafka-ingest\"}") ==
               f.ramp().last_good_basis_points() / 100.0;
  }, absl::Seconds(15)));
}

// Other systems hold the flags through Flags.Watch (the client library) and get
// the workers' decision locally, or ask Flags.Evaluate.
TEST_F(RolloutTest, FlagClientFollowsChangesAndEvaluatesLikeTheController) {
  CreateFlag();
  absl::StatusOr<std::unique_ptr<flags::FlagClient>> created =
      flags::FlagClient::Create({controller_->address()});
  ASSERT_TRUE(created.ok()) << created.status();
  flags::FlagClient& client = **created;
  ASSERT_TRUE(client.WaitForSnapshot(absl::Seconds(10)));
  const uint64_t first = client.revision();
  EXPECT_EQ(client.Evaluate("nope", "k", absl::Now()).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<flags::Evaluation> before = client.Evaluate("kafka-ingest", "p1", absl::Now());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->basis_points, 0u);
  v1::Flag f = Set("100", "2s", 1);
  ASSERT_TRUE(WaitFor([&] { return client.revision() > first; }, absl::Seconds(10)));
  // Issue 10: the client decides only up to the horizon the controller confirmed;
  // a time beyond it is refused (a change not received yet may apply), not guessed.
  const absl::Time effective = ToAbslTime(f.schedule(f.schedule_size() - 1).effective_time());
  absl::StatusOr<flags::Evaluation> guess =
      client.Evaluate("kafka-ingest", "p1", absl::Now() + absl::Minutes(1));
  EXPECT_EQ(guess.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(guess.status().message(), "beyond the known schedule"))
      << guess.status();
  ASSERT_TRUE(WaitFor([&] { return client.known_until() >= effective; }, absl::Seconds(10)));
  absl::StatusOr<flags::Evaluation> after = client.Evaluate("kafka-ingest", "p1", effective);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->basis_points, 10000u);
  EXPECT_TRUE(after->in_rollout);
  // Issue 10: `flags status` shows who holds the latest version; the client's
  // watch is listed with the version it was sent.
  ASSERT_TRUE(WaitFor(
      [&] {
        v1::FlagHolders h = CtlJson<v1::FlagHolders>({"flags", "holders", "kafka-ingest"});
        return h.holders_size() == 1 && h.holders(0).kind() == v1::FlagHolder::KIND_WATCHER &&
               h.holders(0).version() == f.version() && !h.holders(0).acknowledged();
      },
      absl::Seconds(10)));
  CtlResult status = Ctl({"flags", "status", "kafka-ingest"});
  EXPECT_TRUE(absl::StrContains(status.output,
                                "holders of version 2: 0 of 0 workers "
                                "(acknowledged), 1 of 1 watchers (sent)"))
      << status.output;
  // The controller's Evaluate agrees, key by key.
  auto stub = v1::Flags::NewStub(
      grpc::CreateChannel(controller_->address(), grpc::InsecureChannelCredentials()));
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    v1::EvaluateRequest req;
    req.set_flag("kafka-ingest");
    req.set_key(absl::StrCat("p", i));
    *req.mutable_at() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(absl::Now()));
    v1::EvaluateResponse resp;
    grpc::Status st = stub->Evaluate(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_code() << " " << st.error_message();
    absl::StatusOr<flags::Evaluation> local = client.Evaluate(
        "kafka-ingest", absl::StrCat("p", i),
        absl::FromUnixMicros(google::protobuf::util::TimeUtil::TimestampToMicroseconds(req.at())));
    ASSERT_TRUE(local.ok());
    EXPECT_EQ(resp.bucket(), local->bucket);
    EXPECT_EQ(resp.in_rollout(), local->in_rollout);
  }
  grpc::ClientContext ctx;
  v1::EvaluateRequest unknown;
  unknown.set_flag("nope");
  v1::EvaluateResponse resp;
  EXPECT_EQ(stub->Evaluate(&ctx, unknown, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RolloutTest, RefusedChangesArePreciseAndChangeNothing) {
  CreateFlag();
  CtlResult too_much = Ctl({"flags", "set", "kafka-ingest", "--percent", "120",
                            "--expected-version", "1"});
  EXPECT_EQ(too_much.code, 2);
  EXPECT_EQ(too_much.output,
            "sluicectl: --percent: '120' is more than 100 (see sluicectl --help)\n");
  CtlResult too_soon = Ctl({"flags", "set", "kafka-ingest", "--percent", "10", "--in", "1s",
                            "--expected-version", "1"});
  EXPECT_EQ(too_soon.code, 1);
  EXPECT_EQ(too_soon.output,
            "sluicectl: INVALID_ARGUMENT: effective_time: must be at least 2s from now (the "
            "propagation lead), got 1s\n");
  CtlResult unknown = Ctl({"flags", "set", "nope", "--percent", "10", "--expected-version", "1"});
  EXPECT_EQ(unknown.output, "sluicectl: NOT_FOUND: flag nope not found\n");
  ASSERT_EQ(Ctl({"flags", "set", "kafka-ingest", "--percent", "10", "--expected-version", "1"})
                .code,
            0);
  CtlResult stale = Ctl({"flags", "set", "kafka-ingest", "--percent", "20",
                         "--expected-version", "1"});
  EXPECT_EQ(stale.output,
            "sluicectl: ABORTED: flag kafka-ingest is at version 2, not expected_version 1; "
            "read it again and retry\n");
  CtlResult decimals = Ctl({"flags", "set", "kafka-ingest", "--percent", "12.345",
                            "--expected-version", "2"});
  EXPECT_EQ(decimals.code, 2);
  CtlResult no_flag = Ctl({"pipelines", "create", "p", "--topics", "items", "--rollout-flag",
                           "nope", "--routing-key", "kafka-key", "--legacy", "skip"});
  EXPECT_EQ(no_flag.output, "sluicectl: INVALID_ARGUMENT: rollout.flag: no flag named nope\n");
  CtlResult no_action = Ctl({"pipelines", "create", "p", "--topics", "items", "--rollout-flag",
                             "kafka-ingest", "--routing-key", "kafka-key"});
  EXPECT_EQ(no_action.output,
            "sluicectl: INVALID_ARGUMENT: rollout.legacy_action: set skip or a legacy_table\n");
  v1::Flag f = CurrentFlag();
  EXPECT_EQ(f.version(), 2u);
  ASSERT_EQ(f.schedule_size(), 1);
  EXPECT_EQ(f.schedule(0).basis_points(), 1000u);
  // Evaluation matches the shared library.
  const absl::Time later = absl::Now() + absl::Minutes(1);
  CtlResult eval = Ctl({"--json", "flags", "eval", "kafka-ingest", "p7", "--at",
                        absl::FormatTime(absl::RFC3339_full, later, absl::UTCTimeZone())});
  v1::EvaluateFlagResponse e;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(eval.output, &e).ok()) << eval.output;
  const flags::Evaluation mine = flags::FlagSchedule(f).Evaluate("p7", later);
  EXPECT_EQ(e.bucket(), mine.bucket);
  EXPECT_EQ(e.basis_points(), 1000u);
  EXPECT_EQ(e.in_rollout(), mine.in_rollout);
  // The key read from a payload by the workers' rule. `--payload` was never seen
  // as given, so this form answered a usage error (found while adding issue 10's
  // flags).
  CtlResult from_payload =
      Ctl({"--json", "flags", "eval", "kafka-ingest", "--payload", "{\"project_id\": \"p7\"}",
           "--routing-key", "json:project_id", "--at",
           absl::FormatTime(absl::RFC3339_full, later, absl::UTCTimeZone())});
  ASSERT_EQ(from_payload.code, 0) << from_payload.output;
  v1::EvaluateFlagResponse ep;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(from_payload.output, &ep).ok())
      << from_payload.output;
  EXPECT_EQ(ep.bucket(), mine.bucket);
  EXPECT_TRUE(absl::StrContains(Ctl({"audit", "list"}).output, "flag.set"));
}

// Issue 8, "Limits on input": each bad input is refused, naming the field, by
// sluicectl (exit 2) and, where sluicectl cannot send it, by the controller
// (INVALID_ARGUMENT, exit 1); the stored flag and offsets stay as they were.
TEST_F(RolloutTest, OutOfRangeInputsAreRefusedNamingTheFieldAndChangeNothing) {
  CreateFlag();
  const v1::Flag before = CurrentFlag();
  ASSERT_EQ(before.version(), 1u);
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string output;
  };
  const std::vector<Case> cases = {
      // Aborted with exit 134 (protobuf's TimeUtil CHECK on a year past 9999).
      {{"flags", "set", "kafka-ingest", "--percent", "10", "--at", "10000-01-01T00:00:00Z",
        "--expected-version", "1"},
       2,
       "sluicectl: --at: '10000-01-01T00:00:00Z' is out of range (years 0001 to 9999; the "
       "controller takes at most 10 years ahead) (see sluicectl --help)\n"},
      {{"flags", "eval", "kafka-ingest", "p1", "--at", "10000-01-01T00:00:00Z"},
       2,
       "sluicectl: --at: '10000-01-01T00:00:00Z' is out of range (years 0001 to 9999; the "
       "controller takes at most 10 years ahead) (see sluicectl --help)\n"},
      {{"flags", "set", "kafka-ingest", "--percent", "10", "--in", "1e300",
        "--expected-version", "1"},
       2, "sluicectl: --in: '1e300' is too long (at most 10000 years) (see sluicectl --help)\n"},
      // Answered UNKNOWN: the controller threw converting the time.
      {{"flags", "set", "kafka-ingest", "--percent", "10", "--at", "2200-01-01T00:00:00Z",
        "--expected-version", "1"},
       1,
       "sluicectl: INVALID_ARGUMENT: effective_time: must be at most 10 years from now, got "
       "2200-01-01T00:00:00+00:00\n"},
      {{"flags", "set", "kafka-ingest", "--percent", "10", "--in", "400000000",
        "--expected-version", "1"},
       1,
       "sluicectl: INVALID_ARGUMENT: effective_in: must be at most 10 years, got "
       "111111h6m40s\n"},
      // Became 4 basis points.
      {{"flags", "set", "kafka-ingest", "--percent", "42949673", "--expected-version", "1"},
       2, "sluicectl: --percent: '42949673' is more than 100 (see sluicectl --help)\n"},
      // A huge step ramped 4999, 4998, ...
      {{"flags", "ramp", "kafka-ingest", "--to", "50", "--step", "100.01", "--every", "1m",
        "--expected-version", "1"},
       2, "sluicectl: --step: '100.01' is more than 100 (see sluicectl --help)\n"},
      {{"flags", "ramp", "kafka-ingest", "--to", "50", "--step", "0", "--every", "1m",
        "--expected-version", "1"},
       2, "sluicectl: --step: '0' is less than 0.01 (see sluicectl --help)\n"},
      {{"flags", "ramp", "kafka-ingest", "--to", "20", "--step", "50", "--every", "1m",
        "--expected-version", "1"},
       1,
       "sluicectl: INVALID_ARGUMENT: step_basis_points: 5000 is more than "
       "target_basis_points 2000\n"},
      // Reset partition 0.
      {{"offsets", "reset", "p", "--topic", "items", "--partition", "4294967296", "--to", "0"},
       2,
       "sluicectl: --partition: '4294967296' is out of range (-1 to 2147483647) (see "
       "sluicectl --help)\n"},
      // --json errors were plain text.
      {{"--json", "flags", "set", "kafka-ingest", "--percent", "42949673",
        "--expected-version", "1"},
       2, "{\"code\":\"INVALID_ARGUMENT\",\"message\":\"--percent: '42949673' is more than 100\"}\n"},
      {{"--json", "flags", "set", "kafka-ingest", "--percent", "10", "--at",
        "2200-01-01T00:00:00Z", "--expected-version", "1"},
       1,
       "{\"code\":\"INVALID_ARGUMENT\",\"message\":\"effective_time: must be at most 10 "
       "years from now, got 2200-01-01T00:00:00+00:00\"}\n"},
  };
  for (const Case& c : cases) {
    CtlResult r = Ctl(c.args);
    EXPECT_EQ(r.code, c.code) << absl::StrJoin(c.args, " ") << ": " << r.output;
    EXPECT_EQ(r.output, c.output) << absl::StrJoin(c.args, " ");
  }

  // What sluicectl refuses, sent to the controller directly.
  auto admin = v1::Admin::NewStub(
      grpc::CreateChannel(controller_->address(), grpc::InsecureChannelCredentials()));
  auto call = [] {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  };
  v1::Flag unused;
  {
    v1::SetFlagRequest req;
    req.set_name("kafka-ingest");
    req.set_expected_version(1);
    req.set_basis_points(4294967295u);
    grpc::Status s = admin->SetFlag(call().get(), req, &unused);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "basis_points: 4294967295 is more than 10000 (100%)");
    req.set_basis_points(100);
    req.mutable_effective_time()->set_seconds(253402300800);  // 10000-01-01, invalid
    s = admin->SetFlag(call().get(), req, &unused);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(),
              "effective_time: must be at most 10 years from now, got 10000-01-01T00:00:00+00:00");
    req.clear_effective_time();
    req.mutable_effective_in()->set_seconds(int64_t{1} << 62);
    s = admin->SetFlag(call().get(), req, &unused);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StartsWith(s.error_message(), "effective_in: must be at most 10 years"))
        << s.error_message();
  }
  {
    v1::RampFlagRequest req;
    req.set_name("kafka-ingest");
    req.set_expected_version(1);
    req.set_target_basis_points(5000);
    req.set_step_basis_points(4294967295u);
    req.mutable_every()->set_seconds(60);
    grpc::Status s = admin->RampFlag(call().get(), req, &unused);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "step_basis_points: 4294967295 is more than 10000 (100%)");
  }
  ASSERT_EQ(Ctl({"pipelines", "create", "p", "--topics", "items"}).code, 0);
  ASSERT_EQ(Ctl({"pipelines", "pause", "p"}).code, 0);
  {
    v1::ResetOffsetsRequest req;
    req.set_pipeline("p");
    req.set_topic("items");
    req.set_partition(-2);
    req.set_position(v1::RESET_POSITION_OFFSET);
    req.set_next_offset(0);
    v1::GetOffsetsResponse resp;
    grpc::Status s = admin->ResetOffsets(call().get(), req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "partition: must be >= 0, or -1 for all");
  }

  const v1::Flag after = CurrentFlag();
  EXPECT_EQ(after.DebugString(), before.DebugString());
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_offsets"), 0);
}

}  // namespace
}  // namespace sluice::testing
