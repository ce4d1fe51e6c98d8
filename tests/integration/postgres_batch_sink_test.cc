// PostgresBatchSink against a real PostgreSQL: the transaction, the fence,
// dead letters, the row-by-row fallback and the table checks.
#include "worker/postgres_batch_sink.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/fixtures/postgres_server.h"

namespace sluice::worker {
namespace {

using ::sluice::testing::PgDatabase;
using ::sluice::testing::PostgresServer;

const TopicPartition kP0{"items", 0};
const TopicPartition kP1{"items", 1};

Batch MakeBatch(const TopicPartition& tp, int64_t first, int n, const std::string& tag = "") {
  Batch b;
  for (int64_t o = first; o < first + n; ++o) {
    b.messages.push_back(Message{tp.topic, tp.partition, o, absl::StrCat("k", o),
                                 absl::StrCat("{\"offset\":", o, ",\"tag\":\"", tag, "\"}"),
                                 absl::FromUnixMillis(1700000000000 + o)});
    b.next_offsets[tp] = o + 1;
  }
  return b;
}

class PostgresBatchSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PostgresServer>> pg = PostgresServer::SharedOrPrivate();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = std::move(*pg);
    absl::StatusOr<PgDatabase> db = pg_->CreateDatabase("sink");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
  }

  PostgresSinkConfig Config() {
    PostgresSinkConfig c;
    c.connection.host = db_.host;
    c.connection.port = db_.port;
    c.connection.user = db_.user;
    c.connection.dbname = db_.dbname;
    c.consumer_group = "g";
    c.create_table = true;
    return c;
  }

  std::unique_ptr<PostgresBatchSink> NewSink(PostgresSinkConfig config) {
    absl::StatusOr<std::unique_ptr<PostgresBatchSink>> s = PostgresBatchSink::Create(config);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::unique_ptr<PostgresBatchSink> NewSink() { return NewSink(Config()); }

  std::unique_ptr<PostgresServer> pg_;
  PgDatabase db_;
};

TEST_F(PostgresBatchSinkTest, WritesRowsAndOffsetsInOneTransaction) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->ClaimPartitions({kP0, kP1}).ok());
  Batch b = MakeBatch(kP0, 0, 5);
  Batch b1 = MakeBatch(kP1, 0, 3);
  b.messages.insert(b.messages.end(), b1.messages.begin(), b1.messages.end());
  b.next_offsets[kP1] = 3;
  absl::StatusOr<WriteResult> r = sink->Write(b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_written, 8);
  EXPECT_EQ(r->dead_letters, 0);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 8);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets WHERE kafka_partition = 0"), 5);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets WHERE kafka_partition = 1"), 3);
  // Key, timestamp and payload land as sent.
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE kafka_partition = 0 AND "
                         "kafka_offset = 4 AND kafka_key = 'k4'::bytea AND payload->>'offset' = "
                         "'4' AND kafka_timestamp = to_timestamp(1700000000.004)"),
            1);
  // A new claim reads the stored offsets back.
  auto other = NewSink();
  absl::StatusOr<OffsetMap> stored = other->ClaimPartitions({kP0, kP1});
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, (OffsetMap{{kP0, 5}, {kP1, 3}}));
}

// (g) A stale writer whose partition moved cannot commit.
TEST_F(PostgresBatchSinkTest, StaleWriterIsFenced) {
  auto old_owner = NewSink();
  auto new_owner = NewSink();
  ASSERT_TRUE(old_owner->ClaimPartitions({kP0}).ok());
  ASSERT_TRUE(old_owner->Write(MakeBatch(kP0, 0, 10, "old")).ok());
  // The partition moves: the new owner reads offset 10 and writes on.
  absl::StatusOr<OffsetMap> claimed = new_owner->ClaimPartitions({kP0});
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(claimed->at(kP0), 10);
  ASSERT_TRUE(new_owner->Write(MakeBatch(kP0, 10, 5, "new")).ok());
  // The old owner, unaware, writes the same range: fenced, nothing written.
  absl::StatusOr<WriteResult> stale = old_owner->Write(MakeBatch(kP0, 10, 8, "old"));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(stale.status().message(),
            "fenced: the stored offsets of items/0 moved since this worker read them; "
            "another worker owns them now");
  EXPECT_EQ(old_owner->LastFencedPartitions(), (std::vector<TopicPartition>{kP0}));
  EXPECT_EQ(old_owner->FencePosition(kP0), std::nullopt);  // released
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 15);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE kafka_offset >= 10 AND "
                         "payload->>'tag' = 'old'"),
            0);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 15);
  // Later writes of the stale owner are refused before reaching the database.
  absl::StatusOr<WriteResult> later = old_owner->Write(MakeBatch(kP0, 18, 1, "old"));
  EXPECT_EQ(later.status().code(), absl::StatusCode::kFailedPrecondition);
}

// Two first-time owners race for a partition with no stored offset: one wins.
TEST_F(PostgresBatchSinkTest, FirstWritersRaceAndOneIsFenced) {
  auto a = NewSink();
  auto b = NewSink();
  ASSERT_TRUE(a->ClaimPartitions({kP0}).ok());
  ASSERT_TRUE(b->ClaimPartitions({kP0}).ok());
  ASSERT_TRUE(a->Write(MakeBatch(kP0, 0, 4, "a")).ok());
  EXPECT_EQ(b->Write(MakeBatch(kP0, 0, 6, "b")).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 4);
}

TEST_F(PostgresBatchSinkTest, InvalidPayloadsBecomeDeadLettersInTheSameTransaction) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->ClaimPartitions({kP0}).ok());
  Batch b = MakeBatch(kP0, 0, 4);
  b.messages[1].payload = "{not json";
  b.messages[2].payload = std::nullopt;  // tombstone: stored as NULL
  absl::StatusOr<WriteResult> r = sink->Write(b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_written, 3);
  EXPECT_EQ(r->dead_letters, 1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE payload IS NULL"), 1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE consumer_group = 'g' "
                         "AND kafka_offset = 1 AND payload = '{not json'::bytea AND "
                         "kafka_key = 'k1'::bytea AND sqlstate = '22P02' AND error LIKE "
                         "'invalid input syntax for type json: %'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 4);
}

// Rows the validator cannot predict (here a CHECK constraint) are isolated row by
// row: they become dead letters with PostgreSQL's own error, the rest lands.
TEST_F(PostgresBatchSinkTest, RowsPostgresRefusesAreIsolated) {
  auto sink = NewSink();
  ASSERT_EQ(db_.Exec("ALTER TABLE raw_items ADD CONSTRAINT no_seven "
                     "CHECK (payload->>'offset' <> '7')"),
            "");
  ASSERT_TRUE(sink->ClaimPartitions({kP0}).ok());
  absl::StatusOr<WriteResult> r = sink->Write(MakeBatch(kP0, 0, 10));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_written, 9);
  EXPECT_EQ(r->dead_letters, 1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 7 AND "
                         "sqlstate = '23514' AND error LIKE '%no_seven%'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 9);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 10);
}

TEST_F(PostgresBatchSinkTest, TextAndBytesFormats) {
  PostgresSinkConfig text = Config();
  text.table = "raw_text";
  text.payload_format = ::sluice::v1::PAYLOAD_FORMAT_TEXT;
  auto t = NewSink(text);
  ASSERT_TRUE(t->ClaimPartitions({kP0}).ok());
  Batch b = MakeBatch(kP0, 0, 3);
  b.messages[0].payload = "tab\there\nnewline \\ backslash";
  b.messages[1].payload = "bad \xff utf8";
  ASSERT_TRUE(t->Write(b).ok());
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_text WHERE payload = "
                         "E'tab\\there\\nnewline \\\\ backslash'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE sqlstate = '22021'"), 1);

  PostgresSinkConfig bytes = Config();
  bytes.table = "raw_bytes";
  bytes.consumer_group = "g2";
  bytes.payload_format = ::sluice::v1::PAYLOAD_FORMAT_BYTES;
  auto y = NewSink(bytes);
  ASSERT_TRUE(y->ClaimPartitions({kP0}).ok());
  Batch raw = MakeBatch(kP0, 0, 1);
  raw.messages[0].payload = std::string("\x00\xff\t\\", 4);
  ASSERT_TRUE(y->Write(raw).ok());
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_bytes WHERE payload = '\\x00ff095c'::bytea"),
            1);
}

TEST_F(PostgresBatchSinkTest, MissingOrIncompatibleTableIsAPreciseError) {
  PostgresSinkConfig c = Config();
  c.create_table = false;
  c.table = "missing";
  absl::StatusOr<std::unique_ptr<PostgresBatchSink>> s = PostgresBatchSink::Create(c);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.status().message(),
            "table missing does not exist (create it, or start with --create-table)");

  ASSERT_EQ(db_.Exec("CREATE TABLE wrong (topic text, kafka_partition int, kafka_offset bigint, "
                     "kafka_key bytea, kafka_timestamp timestamptz, payload text)"),
            "");
  c.table = "wrong";
  s = PostgresBatchSink::Create(c);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.status().message(), "table wrong column payload is text, need jsonb");

  ASSERT_EQ(db_.Exec("CREATE TABLE nokey (topic text, kafka_partition int, kafka_offset bigint, "
                     "payload jsonb)"),
            "");
  c.table = "nokey";
  s = PostgresBatchSink::Create(c);
  EXPECT_EQ(s.status().message(), "table nokey has no column kafka_key (bytea)");
}

TEST_F(PostgresBatchSinkTest, UnreachableDatabaseIsUnavailable) {
  PostgresSinkConfig c = Config();
  c.connection.port = 1;  // nothing listens there
  absl::StatusOr<std::unique_ptr<PostgresBatchSink>> s = PostgresBatchSink::Create(c);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("cannot connect to PostgreSQL at"), std::string::npos);
}

// A lost connection mid-write is UNAVAILABLE; the retried batch then commits once.
TEST_F(PostgresBatchSinkTest, RetryAfterConnectionLossCommitsOnce) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->ClaimPartitions({kP0}).ok());
  ASSERT_TRUE(sink->Write(MakeBatch(kP0, 0, 5)).ok());
  ASSERT_EQ(db_.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                     "current_database() AND pid <> pg_backend_pid()"),
            "");
  Batch next = MakeBatch(kP0, 5, 5);
  absl::StatusOr<WriteResult> r = sink->Write(next);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  r = sink->Write(next);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 10);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 10);
}

}  // namespace
}  // namespace sluice::worker
