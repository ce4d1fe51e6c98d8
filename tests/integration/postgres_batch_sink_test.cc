// PostgresBatchSink against a real PostgreSQL: the transaction, the fence,
// dead letters, the isolation of refused rows, the error kinds and the table checks.
#include "worker/postgres/postgres_batch_sink.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/sluice_schema.h"
#include "gtest/gtest.h"
#include "tests/fixtures/postgres_server.h"
#include "tests/fixtures/wait.h"
#include "worker/offset_fence.h"
#include "worker/postgres/copy_encoder.h"

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

// A sink with the fence the ingest loop keeps for it.
class Writer {
 public:
  explicit Writer(std::unique_ptr<PostgresBatchSink> sink) : sink_(std::move(sink)) {}
  absl::StatusOr<OffsetMap> Claim(const std::vector<TopicPartition>& partitions) {
    absl::StatusOr<OffsetMap> stored = sink_->ReadOffsets(partitions);
    if (!stored.ok()) return stored;
    for (const TopicPartition& tp : partitions) {
      auto it = stored->find(tp);
      const std::optional<int64_t> row =
          it == stored->end() ? std::nullopt : std::optional<int64_t>(it->second);
      fence_.Claim(tp, row, row.value_or(kOffsetBeginning));
    }
    return stored;
  }
  // Writes `batch` as continuing from the claimed positions.
  absl::StatusOr<WriteResult> Write(Batch batch) {
    for (const auto& [tp, next] : batch.next_offsets) {
      batch.continues_from[tp] = fence_.Position(tp).value_or(0);
    }
    absl::StatusOr<std::vector<OffsetUpdate>> plan = fence_.Plan(batch);
    if (!plan.ok()) return plan.status();
    absl::StatusOr<WriteResult> r = sink_->Write(batch, *plan);
    if (r.ok() && r->fenced.empty()) fence_.Advance(*plan);
    return r;
  }
  PostgresBatchSink* operator->() { return sink_.get(); }

 private:
  std::unique_ptr<PostgresBatchSink> sink_;
  OffsetFence fence_;
};

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

  std::unique_ptr<Writer> NewSink(PostgresSinkConfig config) {
    absl::StatusOr<std::unique_ptr<PostgresBatchSink>> s = PostgresBatchSink::Create(config);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::make_unique<Writer>(std::move(*s)) : nullptr;
  }
  std::unique_ptr<Writer> NewSink() { return NewSink(Config()); }

  std::unique_ptr<PostgresServer> pg_;
  PgDatabase db_;
};

TEST_F(PostgresBatchSinkTest, WritesRowsAndOffsetsInOneTransaction) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->Claim({kP0, kP1}).ok());
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
  absl::StatusOr<OffsetMap> stored = other->Claim({kP0, kP1});
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, (OffsetMap{{kP0, 5}, {kP1, 3}}));
}

// (g) A stale writer whose partition moved cannot commit.
TEST_F(PostgresBatchSinkTest, StaleWriterIsFenced) {
  auto old_owner = NewSink();
  auto new_owner = NewSink();
  ASSERT_TRUE(old_owner->Claim({kP0}).ok());
  ASSERT_TRUE(old_owner->Write(MakeBatch(kP0, 0, 10, "old")).ok());
  // The partition moves: the new owner reads offset 10 and writes on.
  absl::StatusOr<OffsetMap> claimed = new_owner->Claim({kP0});
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(claimed->at(kP0), 10);
  ASSERT_TRUE(new_owner->Write(MakeBatch(kP0, 10, 5, "new")).ok());
  // The old owner, unaware, writes the same range: fenced, nothing written.
  absl::StatusOr<WriteResult> stale = old_owner->Write(MakeBatch(kP0, 10, 8, "old"));
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ(stale->fenced, (std::vector<TopicPartition>{kP0}));
  EXPECT_EQ(stale->rows_written, 0);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 15);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE kafka_offset >= 10 AND "
                         "payload->>'tag' = 'old'"),
            0);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 15);
}

// Two first-time owners race for a partition with no stored offset: one wins.
TEST_F(PostgresBatchSinkTest, FirstWritersRaceAndOneIsFenced) {
  auto a = NewSink();
  auto b = NewSink();
  ASSERT_TRUE(a->Claim({kP0}).ok());
  ASSERT_TRUE(b->Claim({kP0}).ok());
  ASSERT_TRUE(a->Write(MakeBatch(kP0, 0, 4, "a")).ok());
  absl::StatusOr<WriteResult> lost = b->Write(MakeBatch(kP0, 0, 6, "b"));
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_EQ(lost->fenced, (std::vector<TopicPartition>{kP0}));
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 4);
}

TEST_F(PostgresBatchSinkTest, InvalidPayloadsBecomeDeadLettersInTheSameTransaction) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->Claim({kP0}).ok());
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

// A sluice_dead_letters table of an older Sluice (no state, timestamp, headers or
// path) gains the columns when a worker starts; its rows read as pending, without
// a path.
TEST_F(PostgresBatchSinkTest, AnOlderDeadLetterTableGainsTheNewColumns) {
  ASSERT_EQ(db_.Exec(std::string(kCreateDeadLettersTable) +
                     "; INSERT INTO sluice_dead_letters (consumer_group, topic, kafka_partition, "
                     "kafka_offset, error) VALUES ('g', 'events', 0, 99, 'old')"),
            "");
  auto sink = NewSink();
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  Batch b = MakeBatch(kP0, 0, 2);
  b.messages[1].payload = "{not json";
  b.messages[1].timestamp = absl::FromUnixSeconds(1700000000);
  ASSERT_TRUE(sink->Write(b).ok());
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 99 AND "
                         "state = 'pending' AND rollout_path IS NULL"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 1 AND "
                         "rollout_path = 'kafka' AND kafka_timestamp = to_timestamp(1700000000)"),
            1);
}

// Rows the validator cannot predict (here a CHECK constraint) are isolated by
// bisection: they become dead letters with PostgreSQL's own error, the rest lands.
TEST_F(PostgresBatchSinkTest, RowsPostgresRefusesAreIsolated) {
  auto sink = NewSink();
  ASSERT_EQ(db_.Exec("ALTER TABLE raw_items ADD CONSTRAINT no_seven "
                     "CHECK (payload->>'offset' <> '7')"),
            "");
  ASSERT_TRUE(sink->Claim({kP0}).ok());
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
  ASSERT_TRUE(t->Claim({kP0}).ok());
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
  ASSERT_TRUE(y->Claim({kP0}).ok());
  Batch raw = MakeBatch(kP0, 0, 1);
  raw.messages[0].payload = std::string("\x00\xff\t\\", 4);
  ASSERT_TRUE(y->Write(raw).ok());
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_bytes WHERE payload = '\\x00ff095c'::bytea"),
            1);
}

// Issue 9: rows go in COPY's binary format. What lands must be the message, read
// back by PostgreSQL itself: timestamps through the years its text form reads
// specially (year 5, BC, the last year it holds), every byte of a key, unicode and
// escapes in jsonb, and a timestamp it cannot hold refused (a dead letter), never
// wrapped or turned into 'infinity'.
TEST_F(PostgresBatchSinkTest, BinaryRowsStoreWhatTheTextFormWould) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  const absl::TimeZone utc = absl::UTCTimeZone();
  const std::vector<absl::Time> times = {
      absl::FromUnixMillis(1700000000123),
      absl::FromCivil(absl::CivilSecond(5, 1, 1, 0, 0, 0), utc),
      absl::FromCivil(absl::CivilSecond(-44, 3, 15, 12, 0, 0), utc),  // 45 BC
      absl::FromCivil(absl::CivilSecond(1969, 12, 31, 23, 59, 59), utc) + absl::Milliseconds(999),
      absl::FromCivil(absl::CivilSecond(294276, 12, 31, 23, 59, 59), utc),
  };
  Batch b = MakeBatch(kP0, 0, static_cast<int>(times.size()) + 1);
  for (size_t i = 0; i < times.size(); ++i) b.messages[i].timestamp = times[i];
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  b.messages[0].key = every_byte;
  b.messages[1].payload = "{\"t\":\"caf\u00e9 \\u00e9 \\t tab\\\\ \\\"q\\\"\",\"n\":[1.50,-0,1e3]}";
  b.messages[2].key.reset();
  b.messages[2].payload.reset();
  // Beyond PostgreSQL's last timestamp (294276 AD).
  b.messages.back().timestamp = absl::FromUnixMillis(INT64_MAX / 4);
  absl::StatusOr<WriteResult> r = sink->Write(b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_written, static_cast<int64_t>(times.size()));
  EXPECT_EQ(r->dead_letters, 1);
  for (size_t i = 0; i < times.size(); ++i) {
    // EXTRACT(EPOCH ...) is exact (numeric) since PostgreSQL 14.
    // Seconds since 1970 to the microsecond (as a Duration: 294276 AD is beyond
    // int64 microseconds since 1970).
    absl::Duration fraction;
    const absl::Duration since = times[i] - absl::UnixEpoch();
    const int64_t seconds = absl::IDivDuration(since, absl::Seconds(1), &fraction);
    const std::string epoch =
        absl::StrCat(since < absl::ZeroDuration() ? "-" : "", std::abs(seconds), ".",
                     absl::Dec(std::abs(absl::ToInt64Microseconds(fraction)), absl::kZeroPad6));
    EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM raw_items WHERE kafka_offset = ", i,
                                        " AND extract(epoch FROM kafka_timestamp) = ", epoch)),
              1)
        << epoch << " " << db_.Exec(absl::StrCat("SELECT kafka_timestamp FROM raw_items WHERE "
                                                "kafka_offset = ", i));
  }
  EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM raw_items WHERE kafka_offset = 0 AND "
                                      "kafka_key = '",
                                      ByteaHex(every_byte), "'::bytea")),
            1);
  EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM raw_items WHERE kafka_offset = 1 AND "
                                      "payload = '",
                                      *b.messages[1].payload, "'::jsonb")),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE kafka_offset = 2 AND "
                         "kafka_key IS NULL AND payload IS NULL"),
            1);
  EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM sluice_dead_letters WHERE "
                                      "kafka_offset = ",
                                      times.size(), " AND sqlstate = '22008'")),
            1);
}

// Review finding: rows are sent in chunks of 256 KiB; a batch spanning several,
// with a row PostgreSQL refuses in the middle, is bisected down to that row (each
// half a complete binary COPY of its own) and everything else lands once.
TEST_F(PostgresBatchSinkTest, ABatchOfManyChunksIsolatesARefusedRow) {
  auto sink = NewSink();
  ASSERT_EQ(db_.Exec("ALTER TABLE raw_items ADD CONSTRAINT no_bad CHECK (payload->>'bad' IS NULL)"),
            "");
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  Batch b = MakeBatch(kP0, 0, 100);
  const std::string filler(6000, 'x');
  for (int i = 0; i < 100; ++i) {
    b.messages[i].payload = absl::StrCat("{\"offset\":", i, ",\"f\":\"", filler, "\"",
                                         i == 57 ? ",\"bad\":1" : "", "}");
  }
  absl::StatusOr<WriteResult> r = sink->Write(b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_written, 99);
  EXPECT_EQ(r->dead_letters, 1);
  EXPECT_EQ(db_.QueryInt("SELECT count(DISTINCT kafka_offset) FROM raw_items"), 99);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE length(payload->>'f') = 6000"), 99);
  EXPECT_EQ(db_.QueryInt("SELECT kafka_offset FROM sluice_dead_letters WHERE sqlstate = '23514'"),
            57);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 100);
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

// Regression (issue 7.5): re-reading an offset that was dead-lettered before (a
// replay after `offsets reset`) failed with 23505 on sluice_dead_letters forever.
TEST_F(PostgresBatchSinkTest, DeadLettersAreIdempotent) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  Batch b = MakeBatch(kP0, 0, 3);
  b.messages[1].payload = "{not json";
  ASSERT_TRUE(sink->Write(b).ok());
  // The replay: offsets reset to the earliest position, the table truncated.
  ASSERT_EQ(db_.Exec("UPDATE sluice_offsets SET next_offset = -2; TRUNCATE raw_items"), "");
  auto replay = NewSink();
  absl::StatusOr<OffsetMap> stored = replay->Claim({kP0});
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->at(kP0), kOffsetBeginning);
  absl::StatusOr<WriteResult> again = replay->Write(b);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->dead_letters, 1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters"), 1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 2);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 3);
}

// Regression (issue 7.7): row errors outside SQLSTATE classes 22 and 23 were
// retried forever: an index row too large (54000), an exception raised by a
// trigger (P0001), a deferred constraint failing at COMMIT (23505 at commit).
TEST_F(PostgresBatchSinkTest, RowErrorsOfAnyRowClassBecomeDeadLetters) {
  auto sink = NewSink();
  ASSERT_EQ(db_.Exec(R"sql(
      CREATE INDEX raw_items_payload_text ON raw_items ((payload->>'big'));
      CREATE FUNCTION refuse_three() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.payload->>'offset' = '3' THEN RAISE EXCEPTION 'offset three is refused'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER refuse_three BEFORE INSERT ON raw_items
        FOR EACH ROW EXECUTE FUNCTION refuse_three();
      ALTER TABLE raw_items ADD COLUMN tag text GENERATED ALWAYS AS (payload->>'tag') STORED;
      ALTER TABLE raw_items ADD CONSTRAINT unique_tag UNIQUE (tag)
        DEFERRABLE INITIALLY DEFERRED;)sql"),
            "");
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  Batch b = MakeBatch(kP0, 0, 8);
  for (int i = 0; i < 8; ++i) {
    b.messages[i].payload = absl::StrCat("{\"offset\":", i, ",\"tag\":\"t", i, "\"}");
  }
  // Incompressible, so the index entry cannot fit a btree page.
  std::string big;
  uint32_t x = 12345;
  for (int i = 0; i < 9000; ++i) {
    x = x * 1103515245 + 12345;
    big.push_back("0123456789abcdefghijklmnopqrstuv"[(x >> 16) & 31]);
  }
  b.messages[1].payload =
      absl::StrCat("{\"offset\":1,\"tag\":\"t1\",\"big\":\"", big, "\"}");
  b.messages[6].payload = "{\"offset\":6,\"tag\":\"t5\"}";  // duplicates offset 5's tag
  absl::StatusOr<WriteResult> r = sink->Write(b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->dead_letters, 3);
  EXPECT_EQ(r->rows_written, 5);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 1 AND "
                         "sqlstate = '54000'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 3 AND "
                         "sqlstate = 'P0001' AND error = 'offset three is refused'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 6 AND "
                         "sqlstate = '23505'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 5);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 8);
}

// Every COPY into raw_items, counted by the server itself: a statement trigger
// draws from a sequence, which a rolled-back savepoint does not undo.
constexpr char kCountCopies[] = R"sql(
    CREATE SEQUENCE copies;
    CREATE FUNCTION count_copy() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM nextval('copies'); RETURN NULL; END $$;
    CREATE TRIGGER count_copy BEFORE INSERT ON raw_items
      FOR EACH STATEMENT EXECUTE FUNCTION count_copy();)sql";

// Issue 11: one bad row in 10,000 costs at most 15 extra COPY attempts. The
// refused COPY names the row, so it costs one: the batch without it.
TEST_F(PostgresBatchSinkTest, OneRefusedRowInTenThousandCostsOneMoreCopy) {
  auto sink = NewSink();
  ASSERT_EQ(db_.Exec(kCountCopies), "");
  ASSERT_EQ(db_.Exec("ALTER TABLE raw_items ADD CONSTRAINT no_7777 "
                     "CHECK (payload->>'offset' <> '7777')"),
            "");
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  absl::StatusOr<WriteResult> r = sink->Write(MakeBatch(kP0, 0, 10000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_written, 9999);
  EXPECT_EQ(r->dead_letters, 1);
  EXPECT_EQ(r->isolation_copies, 1);
  // The first attempt, then the one.
  EXPECT_EQ(db_.QueryInt("SELECT last_value FROM copies"), 2);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 7777 AND "
                         "sqlstate = '23514' AND error LIKE '%no_7777%'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 9999);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 10000);
}

// A refusal that names no row (a foreign key is checked after the last row):
// halves, the second of two sent only split once the first landed whole, so one
// bad row in 10,000 still costs at most 15 COPYs.
TEST_F(PostgresBatchSinkTest, ARefusalThatNamesNoRowCostsAtMostFifteenCopies) {
  auto sink = NewSink();
  ASSERT_EQ(db_.Exec(kCountCopies), "");
  ASSERT_EQ(db_.Exec("CREATE TABLE offsets_known (o int PRIMARY KEY); "
                     "INSERT INTO offsets_known SELECT o FROM generate_series(0, 9999) o "
                     "WHERE o <> 6421; "
                     "ALTER TABLE raw_items ADD COLUMN o int GENERATED ALWAYS AS "
                     "((payload->>'offset')::int) STORED REFERENCES offsets_known"),
            "");
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  absl::StatusOr<WriteResult> r = sink->Write(MakeBatch(kP0, 0, 10000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rows_written, 9999);
  EXPECT_EQ(r->dead_letters, 1);
  EXPECT_LE(r->isolation_copies, 15);
  EXPECT_EQ(db_.QueryInt("SELECT last_value FROM copies"), r->isolation_copies + 1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 6421 AND "
                         "sqlstate = '23503'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 9999);
}

// Many refused rows: each of the first 8 a COPY errors name is set aside, then
// the rest goes in halves; every refused row is found and every other one lands.
TEST_F(PostgresBatchSinkTest, ManyRefusedRowsAreAllIsolated) {
  auto sink = NewSink();
  ASSERT_EQ(db_.Exec(kCountCopies), "");
  ASSERT_EQ(db_.Exec("ALTER TABLE raw_items ADD CONSTRAINT not_5_mod_37 "
                     "CHECK ((payload->>'offset')::int % 37 <> 5)"),
            "");
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  absl::StatusOr<WriteResult> r = sink->Write(MakeBatch(kP0, 0, 2000));
  ASSERT_TRUE(r.ok()) << r.status();
  const int64_t refused =
      db_.QueryInt("SELECT count(*) FROM generate_series(0, 1999) o WHERE o % 37 = 5");
  EXPECT_EQ(r->dead_letters, refused);
  EXPECT_EQ(r->rows_written, 2000 - refused);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE "
                         "(convert_from(payload, 'UTF8')::jsonb->>'offset')::int % 37 = 5"),
            refused);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE (payload->>'offset')::int % 37 = 5"),
            0);
  EXPECT_EQ(r->isolation_copies + 1, db_.QueryInt("SELECT last_value FROM copies"));
  EXPECT_LT(r->isolation_copies, 4 * refused);
}

// Issue 7.10: the session has a lock timeout, so a stuck lock is a transient
// error, not a hang.
TEST_F(PostgresBatchSinkTest, ALockHeldTooLongIsATransientError) {
  PostgresSinkConfig c = Config();
  c.connection.lock_timeout_ms = 300;
  auto sink = NewSink(c);
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  ASSERT_TRUE(sink->Write(MakeBatch(kP0, 0, 2)).ok());
  PgDatabase::Session holder = db_.OpenSession();
  ASSERT_EQ(holder.Exec("BEGIN; SELECT * FROM sluice_offsets FOR UPDATE"), "");
  const absl::Time start = absl::Now();
  absl::StatusOr<WriteResult> r = sink->Write(MakeBatch(kP0, 2, 2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(r.status().message().find("[SQLSTATE 55P03]"), std::string::npos) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  ASSERT_EQ(holder.Exec("ROLLBACK"), "");
  ASSERT_TRUE(sink->Write(MakeBatch(kP0, 2, 2)).ok());
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 4);
}

// Issue 7.10: a COMMIT whose answer is lost is resolved with txid_status() of the
// recorded transaction id (a read of the stored offsets could see "not landed"
// while the COMMIT is still being applied). Here the server is killed inside the
// COMMIT, before it commits: txid_status says aborted, and the retry writes the
// batch once.
TEST_F(PostgresBatchSinkTest, ACommitWhoseAnswerIsLostIsResolvedByItsTransactionId) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  ASSERT_EQ(db_.Exec(R"sql(
      CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$;
      CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON raw_items
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
        WHEN (NEW.payload->>'tag' = 'slow') EXECUTE FUNCTION slow_commit();)sql"),
            "");
  Batch b = MakeBatch(kP0, 0, 3);
  b.messages[0].payload = "{\"offset\":0,\"tag\":\"slow\"}";
  std::thread killer([&] {
    // The sink's session sits in its COMMIT, running the deferred trigger.
    ASSERT_TRUE(::sluice::testing::WaitFor([&] {
      return db_.QueryInt("SELECT count(*) FROM pg_stat_activity WHERE query = 'COMMIT' AND "
                          "state = 'active' AND datname = current_database()") == 1;
    }, absl::Seconds(20), absl::Milliseconds(20)));
    db_.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'COMMIT' "
             "AND datname = current_database()");
  });
  absl::StatusOr<WriteResult> lost = sink->Write(b);
  killer.join();
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable) << lost.status();
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 0);
  absl::StatusOr<WriteResult> retried = sink->Write(b);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->rows_written, 3);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 3);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 3);
}

TEST_F(PostgresBatchSinkTest, AMissingTableIsAPreconditionErrorMidRun) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->Claim({kP0}).ok());
  ASSERT_EQ(db_.Exec("DROP TABLE raw_items"), "");
  absl::StatusOr<WriteResult> r = sink->Write(MakeBatch(kP0, 0, 2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
  EXPECT_NE(r.status().message().find("[SQLSTATE 42P01]"), std::string::npos) << r.status();
}

// A lost connection mid-write is UNAVAILABLE; the retried batch then commits once.
TEST_F(PostgresBatchSinkTest, RetryAfterConnectionLossCommitsOnce) {
  auto sink = NewSink();
  ASSERT_TRUE(sink->Claim({kP0}).ok());
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
