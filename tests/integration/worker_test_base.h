// Shared setup of the worker integration tests: a test database, a dev broker
// with topic items:8, helpers to start workers and check exactly-once delivery.
#ifndef SLUICE_TESTS_INTEGRATION_WORKER_TEST_BASE_H_
#define SLUICE_TESTS_INTEGRATION_WORKER_TEST_BASE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/fixtures/dev_kafka.h"
#include "tests/fixtures/postgres_server.h"
#include "tests/fixtures/wait.h"
#include "tests/fixtures/worker_process.h"

namespace sluice::testing {

// "key<TAB>json" lines for items start..start+n-1; every `invalid_every`-th item is
// not JSON and has a key starting with "bad-".
inline std::vector<std::string> Items(int start, int n, int invalid_every = 0) {
  std::vector<std::string> lines;
  lines.reserve(n);
  for (int i = start; i < start + n; ++i) {
    if (invalid_every > 0 && i % invalid_every == 0) {
      lines.push_back(absl::StrCat("bad-", i, "\t{\"project_id\": ", i % 50, ", truncated"));
    } else {
      lines.push_back(absl::StrCat("p", i % 50, "\t{\"project_id\":", i % 50, ",\"seq\":", i,
                                   ",\"event\":\"page_view\",\"path\":\"/a/b\"}"));
    }
  }
  return lines;
}

class WorkerExactlyOnceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PostgresServer>> pg = PostgresServer::SharedOrPrivate();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = std::move(*pg);
    StartKafka();
  }

  void StartKafka() {
    absl::StatusOr<PgDatabase> db = pg_->CreateDatabase("worker_it");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
    absl::StatusOr<std::unique_ptr<DevKafka>> kafka = DevKafka::Start({"items:8", "other:2"});
    ASSERT_TRUE(kafka.ok()) << kafka.status();
    kafka_ = std::move(*kafka);
  }

  WorkerArgs Args(std::vector<std::string> extra = {}) {
    extra.insert(extra.begin(), {"--create-table", "--consumer-timeout", "0.15"});
    return WorkerArgs{kafka_->bootstrap(), "items", "it-group", db_, extra};
  }

  std::unique_ptr<WorkerProcess> StartWorker(const std::string& name,
                                             std::vector<std::string> extra = {}) {
    absl::StatusOr<std::unique_ptr<WorkerProcess>> w = WorkerProcess::Start(Args(extra), name);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? std::move(*w) : nullptr;
  }

  int64_t Landed() const {
    return db_.QueryInt(
        "SELECT (SELECT count(*) FROM raw_items) + (SELECT count(*) FROM sluice_dead_letters)");
  }

  bool TablesExist() const {
    return db_.QueryInt("SELECT count(*) FROM pg_tables WHERE tablename IN "
                        "('raw_items', 'sluice_dead_letters', 'sluice_offsets')") == 3;
  }

  // Waits until `total` messages are in raw_items or the dead letters, then checks
  // that each Kafka message is there exactly once and the stored offsets are at
  // the end of every partition.
  void ExpectExactlyOnce(int64_t total, absl::Duration timeout = absl::Seconds(90)) {
    ASSERT_TRUE(WaitFor([&] { return TablesExist() && Landed() >= total; }, timeout))
        << "landed " << (TablesExist() ? Landed() : -1) << " of " << total;
    EXPECT_EQ(Landed(), total);
    EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM (SELECT DISTINCT topic, kafka_partition, "
                           "kafka_offset FROM raw_items) x"),
              db_.QueryInt("SELECT count(*) FROM raw_items"));
    EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items r JOIN sluice_dead_letters d USING "
                           "(topic, kafka_partition, kafka_offset)"),
              0);
    // Offsets run 0..n-1 in every partition of a fresh topic.
    EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM (SELECT kafka_partition, count(*) AS n, "
                           "max(kafka_offset) AS hi FROM (SELECT kafka_partition, kafka_offset "
                           "FROM raw_items UNION ALL SELECT kafka_partition, kafka_offset FROM "
                           "sluice_dead_letters) u GROUP BY 1) p WHERE n <> hi + 1"),
              0);
    EXPECT_EQ(db_.QueryInt("SELECT coalesce(sum(next_offset), 0) FROM sluice_offsets"), total);
    EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_offsets o WHERE next_offset <> (SELECT "
                           "max(kafka_offset) + 1 FROM (SELECT kafka_partition, kafka_offset FROM "
                           "raw_items UNION ALL SELECT kafka_partition, kafka_offset FROM "
                           "sluice_dead_letters) u WHERE u.kafka_partition = o.kafka_partition)"),
              0);
  }

  std::unique_ptr<PostgresServer> pg_;
  PgDatabase db_;
  std::unique_ptr<DevKafka> kafka_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_INTEGRATION_WORKER_TEST_BASE_H_
