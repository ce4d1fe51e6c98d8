// End-to-end tests of the standalone worker: real sluice-worker processes, the dev
// broker (librdkafka mock cluster) fed by kcat, and a real PostgreSQL 15.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/strings/match.h"
#include "common/sluice_schema.h"
#include "gtest/gtest.h"
#include "tests/fixtures/dev_kafka.h"
#include "tests/fixtures/postgres_server.h"
#include "tests/fixtures/prometheus_server.h"
#include "tests/fixtures/wait.h"
#include "tests/fixtures/worker_process.h"
#include "tests/integration/worker_test_base.h"

namespace sluice::testing {
namespace {

// (a) 50,000 messages over 8 partitions, produced with kcat.
TEST_F(WorkerExactlyOnceTest, FiftyThousandMessagesLandExactlyOnce) {
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 50000)).ok());
  auto worker = StartWorker("worker-a", {"--kafka-property", "statistics.interval.ms=200"});
  ASSERT_NE(worker, nullptr);
  ExpectExactlyOnce(50000);
  // The loop counts a batch when its writer's commit reaches it, a moment after
  // the rows are visible: wait for the counter, then check it exactly.
  WaitFor([&] { return worker->Metric("sluice_rows_written_total{") == 50000; },
          absl::Seconds(10));
  EXPECT_EQ(worker->Metric("sluice_rows_written_total{"), 50000);
  EXPECT_EQ(worker->Metric("sluice_messages_consumed_total{"), 50000);
  EXPECT_EQ(worker->HttpGet("/healthz"), "200 ok\n");
  EXPECT_EQ(worker->HttpGet("/ready"), "200 ready\n");
  // Kafka hears of the progress after each commit, so standard lag tools see it.
  int64_t committed = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        absl::StatusOr<std::vector<int64_t>> offsets =
            kafka_->CommittedOffsets("it-group", "items", 8);
        committed = 0;
        if (offsets.ok()) {
          for (int64_t o : *offsets) committed += std::max<int64_t>(o, 0);
        }
        return committed == 50000;
      },
      absl::Seconds(30)))
      << "committed to Kafka: " << committed;
  // Consumer lag per partition, from librdkafka's statistics, drains to 0.
  ASSERT_TRUE(WaitFor(
      [&] {
        for (int p = 0; p < 8; ++p) {
          if (worker->Metric(absl::StrCat("sluice_consumer_lag_messages{partition=\"", p,
                                          "\",pipeline=\"it-group\",topic=\"items\"}")) != 0) {
            return false;
          }
        }
        return true;
      },
      absl::Seconds(20)));
  // SIGTERM: flush, leave the group, exit 0.
  worker->process().Signal(SIGTERM);
  EXPECT_EQ(worker->process().Wait(absl::Seconds(30)), 0);
}

// (b) Two workers in one group share the partitions.
TEST_F(WorkerExactlyOnceTest, TwoWorkersShareThePartitions) {
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 10000)).ok());
  auto a = StartWorker("worker-b1", {"--batch-max-rows", "500"});
  auto b = StartWorker("worker-b2", {"--batch-max-rows", "500"});
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // Both members hold partitions before the rest arrives.
  ASSERT_TRUE(WaitFor(
      [&] { return a->HttpGet("/ready") == "200 ready\n" && b->HttpGet("/ready") == "200 ready\n"; },
      absl::Seconds(60)));
  for (int chunk = 0; chunk < 4; ++chunk) {
    ASSERT_TRUE(kafka_->Produce("items", Items(10000 + chunk * 5000, 5000)).ok());
  }
  ExpectExactlyOnce(30000);
  // The loop counts a batch when its writer's commit reaches it, a moment after
  // the rows are visible: wait for the counter, then check it exactly.
  WaitFor(
      [&] {
        return a->Metric("sluice_rows_written_total{") + b->Metric("sluice_rows_written_total{") ==
               30000;
      },
      absl::Seconds(10));
  EXPECT_GT(a->Metric("sluice_rows_written_total{"), 0);
  EXPECT_GT(b->Metric("sluice_rows_written_total{"), 0);
  EXPECT_EQ(a->Metric("sluice_rows_written_total{") + b->Metric("sluice_rows_written_total{"),
            30000);
}

// (c) kill -9 a worker mid-stream; another takes over.
TEST_F(WorkerExactlyOnceTest, KilledWorkerIsReplacedWithoutLossOrDuplicates) {
  const std::vector<std::string> fast_session = {
      "--batch-max-rows", "200", "--kafka-property", "session.timeout.ms=6000",
      "--kafka-property", "heartbeat.interval.ms=500"};
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 40000)).ok());
  auto a = StartWorker("worker-c1", fast_session);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return TablesExist() && Landed() >= 1000; }, absl::Seconds(60)));
  a->process().Signal(SIGKILL);
  ASSERT_TRUE(a->process().Wait(absl::Seconds(10)).has_value());
  const int64_t at_kill = Landed();
  ASSERT_TRUE(kafka_->Produce("items", Items(40000, 10000)).ok());
  auto b = StartWorker("worker-c2", fast_session);
  ASSERT_NE(b, nullptr);
  ExpectExactlyOnce(50000);
  EXPECT_EQ(b->Metric("sluice_rows_written_total{"), 50000 - at_kill);
}

// Regression (issue 7.1): with no stored row the source assigned
// OFFSET_INVALID, which librdkafka resolves to the group's committed Kafka offset,
// so a group reused with a fresh sluice_offsets read nothing. PostgreSQL is the
// only source of truth: a partition without a row starts at auto.offset.reset.
TEST_F(WorkerExactlyOnceTest, AReusedGroupWithFreshOffsetsStartsAtAutoOffsetReset) {
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 500)).ok());
  {
    auto first = StartWorker("worker-r1");
    ASSERT_NE(first, nullptr);
    ExpectExactlyOnce(500);
    first->process().Signal(SIGTERM);
    ASSERT_EQ(first->process().Wait(absl::Seconds(30)), 0);
  }
  // Kafka knows the group's progress; PostgreSQL forgets it.
  absl::StatusOr<std::vector<int64_t>> committed = kafka_->CommittedOffsets("it-group", "items", 8);
  ASSERT_TRUE(committed.ok()) << committed.status();
  int64_t sum = 0;
  for (int64_t o : *committed) sum += std::max<int64_t>(o, 0);
  EXPECT_EQ(sum, 500);
  ASSERT_EQ(db_.Exec("DELETE FROM sluice_offsets; TRUNCATE raw_items"), "");
  auto second = StartWorker("worker-r2");
  ASSERT_NE(second, nullptr);
  ExpectExactlyOnce(500);
}

// Regression (issue 7.6): a stored offset ahead of the log end (topic recreated,
// offset reset too far) failed "offset would move" forever while /ready said 200.
// The partition now stalls visibly, the others go on, and a reset resumes it.
// Under the eager protocol too, where resuming means re-assigning every
// partition (each must stay where its stream stands, never at Kafka's offsets).
class WorkerOffsetsTest : public WorkerExactlyOnceTest {
 protected:
  // Writes a stored offset before any worker has run (creating Sluice's table).
  void StoreOffset(const std::string& group, const std::string& topic, int partition,
                   int64_t next) {
    ASSERT_EQ(db_.Exec(kCreateOffsetsTable), "");
    ASSERT_EQ(db_.Exec(absl::StrCat("INSERT INTO sluice_offsets (consumer_group, topic, "
                                    "kafka_partition, next_offset) VALUES ('", group, "', '",
                                    topic, "', ", partition, ", ", next, ")")),
              "");
  }

  void StallsAndResumes(std::vector<std::string> extra) {
    ASSERT_TRUE(kafka_->Produce("items", Items(0, 400)).ok());
    StoreOffset("it-group", "items", 0, 1000000);
    auto w = StartWorker("worker-s", extra);
    ASSERT_NE(w, nullptr);
    const std::string stalled =
        "503 not ready: partition items/0 stalled: its stored offset 1000000 is beyond the end "
        "of the log";
    ASSERT_TRUE(WaitFor([&] { return absl::StartsWith(w->HttpGet("/ready"), stalled); },
                        absl::Seconds(60)))
        << w->HttpGet("/ready");
    EXPECT_EQ(w->Metric("sluice_partitions_stalled{pipeline=\"it-group\"}"), 1);
    // The other partitions are ingested meanwhile; partition 0 is not.
    auto landed = [&] {
      return db_.QueryInt("SELECT count(*) FROM pg_tables WHERE tablename = 'raw_items'") == 1
                 ? db_.QueryInt("SELECT count(*) FROM raw_items")
                 : 0;
    };
    ASSERT_TRUE(WaitFor([&] { return landed() > 0; }, absl::Seconds(60)));
    EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE kafka_partition = 0"), 0);
    EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets WHERE kafka_partition = 0"),
              1000000);
    // The operator resets it (offsets reset --to-earliest stores -2).
    ASSERT_EQ(db_.Exec("UPDATE sluice_offsets SET next_offset = -2 WHERE kafka_partition = 0"), "");
    ASSERT_TRUE(WaitFor([&] { return landed() >= 400; }, absl::Seconds(60))) << landed();
    EXPECT_EQ(landed(), 400);
    EXPECT_EQ(db_.QueryInt("SELECT count(DISTINCT (kafka_partition, kafka_offset)) FROM raw_items"),
              400);
    ASSERT_TRUE(WaitFor([&] { return w->HttpGet("/ready") == "200 ready\n"; }, absl::Seconds(30)))
        << w->HttpGet("/ready");
    EXPECT_EQ(w->Metric("sluice_partitions_stalled{pipeline=\"it-group\"}"), 0);
  }
};

TEST_F(WorkerOffsetsTest, AStoredOffsetBeyondTheLogEndStallsThePartitionVisibly) {
  StallsAndResumes({});
}

TEST_F(WorkerOffsetsTest, AStalledPartitionResumesUnderTheEagerProtocolToo) {
  StallsAndResumes({"--kafka-property", "partition.assignment.strategy=range"});
}

// Retention deleted offsets before they were read: the partition moves on to the
// log start (nothing else is lost), and the loss is counted.
TEST_F(WorkerOffsetsTest, OffsetsRetentionDeletedAreSkippedAndCounted) {
  absl::StatusOr<std::unique_ptr<DevKafka>> big = DevKafka::Start({"big:1"});
  ASSERT_TRUE(big.ok()) << big.status();
  // The dev broker keeps about 5 MiB per partition: 9 MiB pushes the start forward.
  std::vector<std::string> lines;
  const std::string filler(1000, 'x');
  for (int i = 0; i < 9000; ++i) {
    lines.push_back(absl::StrCat("k", i, "\t{\"seq\":", i, ",\"f\":\"", filler, "\"}"));
  }
  ASSERT_TRUE((*big)->Produce("big", lines).ok());
  StoreOffset("big-group", "big", 0, 0);
  absl::StatusOr<std::unique_ptr<WorkerProcess>> w = WorkerProcess::Start(
      WorkerArgs{(*big)->bootstrap(), "big", "big-group", db_,
                 {"--create-table", "--consumer-timeout", "0.15", "--kafka-property",
                  "fetch.wait.max.ms=50"}},
      "worker-big");
  ASSERT_TRUE(w.ok()) << w.status();
  auto stored = [&] {
    return db_.QueryInt("SELECT next_offset FROM sluice_offsets WHERE topic = 'big'");
  };
  ASSERT_TRUE(WaitFor([&] { return stored() == 9000; }, absl::Seconds(90))) << stored();
  const int64_t low = db_.QueryInt("SELECT min(kafka_offset) FROM raw_items");
  EXPECT_GT(low, 0);
  // Everything from the log start on, once; the expired ones counted.
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 9000 - low);
  EXPECT_EQ(db_.QueryInt("SELECT count(DISTINCT kafka_offset) FROM raw_items"), 9000 - low);
  EXPECT_EQ((*w)->Metric("sluice_messages_expired_total{pipeline=\"big-group\"}"), low);
}

// (d) 1% invalid JSON: exactly those go to the dead letters, with the reason.
TEST_F(WorkerExactlyOnceTest, InvalidJsonGoesToDeadLetters) {
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 10000, /*invalid_every=*/100)).ok());
  auto worker = StartWorker("worker-d");
  ASSERT_NE(worker, nullptr);
  ExpectExactlyOnce(10000);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters"), 100);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE "
                         "convert_from(kafka_key, 'UTF8') LIKE 'bad-%' AND sqlstate = '22P02' "
                         "AND error LIKE 'invalid input syntax for type json%' AND "
                         "consumer_group = 'it-group' AND payload IS NOT NULL"),
            100);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE "
                         "convert_from(kafka_key, 'UTF8') LIKE 'bad-%'"),
            0);
  WaitFor([&] { return worker->Metric("sluice_dead_letters_total{") == 100; }, absl::Seconds(10));
  EXPECT_EQ(worker->Metric("sluice_dead_letters_total{"), 100);
}

// A real Prometheus scrapes the worker: the exposition parses, and the counters
// it stores match what landed.
TEST_F(WorkerExactlyOnceTest, PrometheusScrapesTheWorker) {
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 2000, /*invalid_every=*/100)).ok());
  auto worker = StartWorker("worker-prom");
  ASSERT_NE(worker, nullptr);
  ExpectExactlyOnce(2000);
  absl::StatusOr<std::unique_ptr<PrometheusServer>> prometheus =
      PrometheusServer::Start({absl::StrCat("127.0.0.1:", worker->metrics_port())});
  ASSERT_TRUE(prometheus.ok()) << prometheus.status();
  ASSERT_TRUE(WaitFor([&] {
    return (*prometheus)->QueryScalar("sum(sluice_rows_written_total)") == 1980;
  }, absl::Seconds(30)));
  EXPECT_EQ((*prometheus)->QueryScalar("up{job=\"sluice\"}"), 1);
  EXPECT_EQ((*prometheus)->QueryScalar("sum(sluice_dead_letters_total)"), 20);
  EXPECT_EQ((*prometheus)->QueryScalar("sum(sluice_items_total{path=\"kafka\"})"), 2000);
  EXPECT_EQ((*prometheus)->QueryScalar("sluice_build_info"), 1);
  EXPECT_GT((*prometheus)->QueryScalar("sum(sluice_batch_write_duration_seconds_count)").value_or(0), 0);
}

// Bad flags: one clear line and exit code 2, before connecting anywhere.
TEST_F(WorkerExactlyOnceTest, BadFlagsExitTwoWithOneLine) {
  WorkerArgs args = Args({"--consumer-timeout", "-1"});
  absl::StatusOr<std::unique_ptr<WorkerProcess>> w = WorkerProcess::Start(args, "worker-flags");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->process().Wait(absl::Seconds(10)), 2);
  EXPECT_EQ((*w)->process().ReadLog(),
            "sluice-worker: --consumer-timeout: '-1' is negative (see --help)\n");
}

// A missing target table without --create-table: a precise error, exit 1.
TEST_F(WorkerExactlyOnceTest, MissingTableIsAPreciseError) {
  WorkerArgs args{kafka_->bootstrap(), "items", "it-group", db_, {"--table", "events"}};
  absl::StatusOr<std::unique_ptr<WorkerProcess>> w = WorkerProcess::Start(args, "worker-notable");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->process().Wait(absl::Seconds(30)), 1);
  EXPECT_NE((*w)->process().ReadLog().find(
                "table events does not exist (create it, or start with --create-table)"),
            std::string::npos)
      << (*w)->process().ReadLog();
}

// (e) PostgreSQL restarted mid-stream: the worker retries and finishes exactly once.
TEST(WorkerPostgresRestartTest, RestartMidStreamLosesAndDuplicatesNothing) {
  absl::StatusOr<std::unique_ptr<PostgresServer>> pg = PostgresServer::StartPrivate();
  ASSERT_TRUE(pg.ok()) << pg.status();
  absl::StatusOr<PgDatabase> db = (*pg)->CreateDatabase("restart");
  ASSERT_TRUE(db.ok()) << db.status();
  absl::StatusOr<std::unique_ptr<DevKafka>> kafka = DevKafka::Start({"items:8"});
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  ASSERT_TRUE((*kafka)->Produce("items", Items(0, 20000)).ok());
  WorkerArgs args{(*kafka)->bootstrap(), "items", "restart-group", *db,
                  {"--create-table", "--batch-max-rows", "300", "--unready-after", "1s"}};
  absl::StatusOr<std::unique_ptr<WorkerProcess>> w = WorkerProcess::Start(args, "worker-e");
  ASSERT_TRUE(w.ok());
  auto landed = [&] {
    return db->QueryInt("SELECT count(*) FROM pg_tables WHERE tablename = 'raw_items'") == 1
               ? db->QueryInt("SELECT count(*) FROM raw_items")
               : 0;
  };
  ASSERT_TRUE(WaitFor([&] { return landed() >= 600; }, absl::Seconds(60)));
  ASSERT_TRUE((*pg)->Stop().ok());
  ASSERT_TRUE((*kafka)->Produce("items", Items(20000, 10000)).ok());
  // The worker notices the outage (its retries count rises) before PostgreSQL returns.
  ASSERT_TRUE(WaitFor(
      [&] { return (*w)->Metric("sluice_write_retries_total{pipeline=\"restart-group\",reason=\"unavailable\"}") > 0; },
      absl::Seconds(30)));
  // Once the outage has lasted --unready-after, /ready says so, with the error.
  ASSERT_TRUE(WaitFor([&] {
    return absl::StartsWith((*w)->HttpGet("/ready"), "503 not ready: failing for ");
  }, absl::Seconds(30))) << (*w)->HttpGet("/ready");
  EXPECT_TRUE(absl::StrContains((*w)->HttpGet("/ready"), "PostgreSQL")) << (*w)->HttpGet("/ready");
  ASSERT_TRUE((*pg)->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return landed() >= 30000; }, absl::Seconds(90)))
      << "landed " << landed();
  EXPECT_EQ(landed(), 30000);
  EXPECT_EQ(db->QueryInt("SELECT count(*) FROM (SELECT DISTINCT kafka_partition, kafka_offset "
                         "FROM raw_items) x"),
            30000);
  EXPECT_EQ(db->QueryInt("SELECT sum(next_offset) FROM sluice_offsets"), 30000);
  EXPECT_EQ((*w)->process().Running(), true);
}

}  // namespace
}  // namespace sluice::testing
