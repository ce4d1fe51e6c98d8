// Column mapping against a real PostgreSQL: every source kind and type lands as
// PostgreSQL itself reads it, values that do not convert become dead letters with
// the reason, and the pre-flight check refuses a table the mapping cannot fill.
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/column_flag.h"
#include "controller/dead_letter_replayer.h"
#include "gtest/gtest.h"
#include "tests/fixtures/postgres_server.h"
#include "worker/offset_fence.h"
#include "worker/postgres/postgres_batch_sink.h"

namespace sluice::worker {
namespace {

using ::sluice::testing::PgDatabase;
using ::sluice::testing::PostgresServer;

const TopicPartition kP0{"events", 3};

class ColumnMappingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PostgresServer>> pg = PostgresServer::SharedOrPrivate();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = std::move(*pg);
    absl::StatusOr<PgDatabase> db = pg_->CreateDatabase("mapping");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *db;
  }

  // A sink for `table` with the columns given as sluicectl's --column values.
  absl::StatusOr<std::unique_ptr<PostgresBatchSink>> Sink(const std::string& table,
                                                          const std::vector<std::string>& flags,
                                                          bool create_table = false) {
    return Sink(table, flags, create_table, {}, false);
  }
  // The same in UPSERT mode on `keys`.
  absl::StatusOr<std::unique_ptr<PostgresBatchSink>> UpsertSink(
      const std::string& table, const std::vector<std::string>& flags,
      const std::vector<std::string>& keys, bool delete_on_tombstone = false) {
    return Sink(table, flags, false, keys, delete_on_tombstone);
  }
  absl::StatusOr<std::unique_ptr<PostgresBatchSink>> Sink(const std::string& table,
                                                          const std::vector<std::string>& flags,
                                                          bool create_table,
                                                          const std::vector<std::string>& keys,
                                                          bool delete_on_tombstone) {
    PostgresSinkConfig c;
    if (!keys.empty()) {
      c.write_mode = v1::WRITE_MODE_UPSERT;
      c.key_columns = keys;
      c.delete_on_tombstone = delete_on_tombstone;
    }
    c.connection.host = db_.host;
    c.connection.port = db_.port;
    c.connection.user = db_.user;
    c.connection.dbname = db_.dbname;
    c.consumer_group = "g";
    c.table = table;
    c.create_table = create_table;
    for (const std::string& flag : flags) {
      const std::string error = ParseColumnFlag(flag, c.columns.Add());
      EXPECT_EQ(error, "") << flag;
    }
    return PostgresBatchSink::Create(c);
  }

  // Writes `messages` (offsets first.. of kP0) as one batch, continuing from
  // `first` (a fresh claim when 0).
  WriteResult Write(PostgresBatchSink* sink, std::vector<Message> messages, int64_t first = 0) {
    OffsetFence fence;
    fence.Claim(kP0, first == 0 ? std::nullopt : std::optional<int64_t>(first), first);
    Batch b;
    for (size_t i = 0; i < messages.size(); ++i) {
      messages[i].topic = kP0.topic;
      messages[i].partition = kP0.partition;
      messages[i].offset = first + static_cast<int64_t>(i);
    }
    b.messages = std::move(messages);
    b.next_offsets[kP0] = first + static_cast<int64_t>(b.messages.size());
    b.continues_from[kP0] = first;
    absl::StatusOr<std::vector<OffsetUpdate>> plan = fence.Plan(b);
    EXPECT_TRUE(plan.ok()) << plan.status();
    absl::StatusOr<WriteResult> r = sink->Write(b, *plan);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : WriteResult{};
  }

  static Message Json(const std::string& payload) {
    Message m;
    m.payload = payload;
    return m;
  }

  // The dead letter of `offset`: "SQLSTATE error", or "" when there is none.
  std::string DeadLetter(int64_t offset) {
    const std::string where =
        absl::StrCat(" FROM sluice_dead_letters WHERE kafka_offset = ", offset);
    if (db_.QueryInt("SELECT count(*)" + where) == 0) return "";
    std::string out;
    for (const char* prefix : {"22P02", "22003", "22007", "22008", "22021", "22P05"}) {
      if (db_.QueryInt(absl::StrCat("SELECT count(*)", where, " AND sqlstate = '", prefix, "'")) >
          0) {
        out = prefix;
      }
    }
    return out.empty() ? "other" : out;
  }

  std::unique_ptr<PostgresServer> pg_;
  PgDatabase db_;
};

TEST_F(ColumnMappingTest, EverySourceKindAndTypeLandsAsPostgresReadsIt) {
  ASSERT_EQ(db_.Exec("CREATE TABLE events (t text, t_bytes bytea, p integer, p_big bigint, "
                     "o bigint, o_num numeric, o_text text, k bytea, k_text text, ts timestamptz, "
                     "ts_ms bigint, ts_text text, h text, h_int integer, doc jsonb, doc_text text, "
                     "project bigint, project_s integer, price numeric(20,4), big numeric, "
                     "ok boolean, at_rfc timestamptz, at_s timestamptz, at_ms timestamptz, "
                     "body jsonb, id uuid, raw bytea, title text, tag text, missing text, "
                     "nul_text text, n_text text, "
                     "ingested_at timestamptz NOT NULL DEFAULT now())"),
            "");
  auto sink = Sink("events", {"t=topic",
                              "t_bytes=topic:bytea",
                              "p=partition",
                              "p_big=partition:bigint",
                              "o=offset",
                              "o_num=offset:numeric",
                              "o_text=offset:text",
                              "k=key",
                              "ts=timestamp",
                              "ts_ms=timestamp:bigint",
                              "ts_text=timestamp:text",
                              "h=header:trace",
                              "h_int=header:attempt:integer",
                              "doc=payload",
                              "doc_text=payload:text",
                              "project=/body/project_id:bigint",
                              "project_s=/body/project_s:integer",
                              "price=/price:numeric",
                              "big=/big:numeric",
                              "ok=/ok:boolean",
                              "at_rfc=/at:timestamptz(rfc3339)",
                              "at_s=/at_s:timestamptz(epoch_s)",
                              "at_ms=/at_ms:timestamptz(epoch_ms)",
                              "body=/body",
                              "id=/id:uuid",
                              "raw=/raw:bytea",
                              "title=/title:text",
                              "tag=/tags/1:text",
                              "missing=/nowhere:text",
                              "n_text=/price:text"});
  ASSERT_TRUE(sink.ok()) << sink.status();
  const std::string payload =
      R"({"body": {"project_id": 9007199254740993, "project_s": "-42", "x": [1, {"y": "z"}]},)"
      R"( "price": 12345678.12345, "big": -123456789012345678901234567890.5e-3, "ok": true,)"
      R"( "at": "2026-11-27T10:00:00.123456+02:00", "at_s": 1700000000.25, "at_ms": "1700000000123",)"
      R"( "id": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "raw": "b\u00e9", "title": "caf\u00e9 \"q\"\t\\",)"
      R"( "tags": ["a", "b/\ud83d\ude00"], "nowhere": null})";
  Message m = Json(payload);
  m.key = std::string("k\0ey", 4);
  m.timestamp = absl::FromUnixMicros(1700000000123000);
  m.headers = {{"trace", "abc"}, {"attempt", "1"}, {"attempt", "7"}, {"empty", std::nullopt}};
  WriteResult r = Write(sink->get(), {m});
  EXPECT_EQ(r.rows_written, 1);
  EXPECT_EQ(r.dead_letters, 0) << DeadLetter(0);
  auto holds = [&](const std::string& condition) {
    return db_.QueryInt("SELECT count(*) FROM events WHERE " + condition) == 1;
  };
  EXPECT_TRUE(holds("t = 'events' AND t_bytes = 'events'::bytea"));
  EXPECT_TRUE(holds("p = 3 AND p_big = 3 AND o = 0 AND o_num = 0 AND o_text = '0'"));
  EXPECT_TRUE(holds("k = '\\x6b006579'::bytea AND k_text IS NULL"));
  EXPECT_TRUE(
      holds("ts = to_timestamp(1700000000.123) AND ts_ms = 1700000000123 AND "
            "ts_text = '2023-11-14T22:13:20.123000Z'"));
  EXPECT_TRUE(holds("h = 'abc' AND h_int = 7")) << "the last header of a name counts";
  EXPECT_TRUE(
      holds(absl::StrCat("doc = $$", payload, "$$::jsonb AND doc_text = $$", payload, "$$")));
  EXPECT_TRUE(holds("project = 9007199254740993 AND project_s = -42"));
  EXPECT_TRUE(
      holds("price = 12345678.1235 AND big = '-123456789012345678901234567.8905'::numeric"));
  EXPECT_TRUE(holds("big::text = (-123456789012345678901234567890.5e-3)::numeric::text"));
  EXPECT_TRUE(
      holds("ok AND at_rfc = '2026-11-27T08:00:00.123456Z' AND "
            "at_s = to_timestamp(1700000000.25) AND at_ms = to_timestamp(1700000000.123)"));
  EXPECT_TRUE(holds(
      R"(body = '{"project_id": 9007199254740993, "project_s": "-42", "x": [1, {"y": "z"}]}'::jsonb)"));
  EXPECT_TRUE(holds("id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' AND raw = '\\x62c3a9'::bytea"));
  EXPECT_TRUE(holds("title = E'caf\\u00e9 \"q\"\\t\\\\' AND tag = E'b/\\U0001F600'"));
  EXPECT_TRUE(holds("missing IS NULL AND n_text = '12345678.12345'"));
}

TEST_F(ColumnMappingTest, ValuesThatDoNotConvertAreDeadLettersWithTheReason) {
  ASSERT_EQ(db_.Exec("CREATE TABLE events (n integer, b bigint, d numeric, ok boolean, "
                     "at timestamptz, id uuid, k text, j jsonb)"),
            "");
  auto sink = Sink("events", {"n=/n:integer", "b=/b:bigint", "d=/d:numeric", "ok=/ok:boolean",
                              "at=/at:timestamptz(rfc3339)", "id=/id:uuid", "k=key:text", "j=/j"});
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::vector<Message> batch = {
      Json(R"({"n": 1})"),                                // 0: lands; the rest NULL
      Json(R"({"n": 2147483648})"),                       // 1: out of range for integer
      Json(R"({"n": 1.5})"),                              // 2: not an integer
      Json(R"({"b": "12x"})"),                            // 3: not an integer
      Json(R"({"d": "NaN?"})"),                           // 4: not a number
      Json(R"({"ok": 1})"),                               // 5: a number is not a boolean
      Json(R"({"at": "yesterday"})"),                     // 6: not RFC 3339
      Json(R"({"id": "not-a-uuid"})"),                    // 7
      Json(R"({"n": 1)"),                                 // 8: not JSON at all
      Json(R"({"j": "\u0000"})"),                         // 9: jsonb refuses the escape
      Json(R"({"n": {"deep": 1}})"),                      // 10: an object is not an integer
      Json(R"({"at": "2026-13-01T00:00:00Z"})"),          // 11: no 13th month
      Json(R"({"d": 1e1001})"),                           // 12: numeric_in refuses the exponent
      Json(R"({"n": null, "b": -9223372036854775808})"),  // 13: lands
  };
  batch[0].key = "plain";
  Message tombstone;  // 14: no payload: every JSON column NULL, lands
  batch.push_back(tombstone);
  Message nul_key = Json("{}");  // 15: a key with a NUL byte is not text
  nul_key.key = std::string("a\0b", 3);
  batch.push_back(nul_key);
  WriteResult r = Write(sink->get(), batch);
  EXPECT_EQ(r.rows_written, 3);
  EXPECT_EQ(r.dead_letters, 13);
  EXPECT_EQ(DeadLetter(0), "");
  EXPECT_EQ(DeadLetter(1), "22003");
  EXPECT_EQ(DeadLetter(2), "22P02");
  EXPECT_EQ(DeadLetter(3), "22P02");
  EXPECT_EQ(DeadLetter(4), "22P02");
  EXPECT_EQ(DeadLetter(5), "22P02");
  EXPECT_EQ(DeadLetter(6), "22007");
  EXPECT_EQ(DeadLetter(7), "22P02");
  EXPECT_EQ(DeadLetter(8), "22P02");
  EXPECT_EQ(DeadLetter(9), "22P05");
  EXPECT_EQ(DeadLetter(10), "22P02");
  EXPECT_EQ(DeadLetter(11), "22007");
  EXPECT_EQ(DeadLetter(12), "22P02");
  EXPECT_EQ(DeadLetter(13), "");
  EXPECT_EQ(DeadLetter(14), "");
  EXPECT_EQ(DeadLetter(15), "22021");
  // The reason names the column and its source.
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 1 AND "
                         "error = 'column \"n\" (/n): value \"2147483648\" is out of range for "
                         "type integer'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 8 AND "
                         "error LIKE 'payload is not JSON: invalid input syntax for type json: %'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM events WHERE n = 1 AND k = 'plain'"), 1);
  EXPECT_EQ(
      db_.QueryInt("SELECT count(*) FROM events WHERE b = -9223372036854775808 AND n IS NULL"), 1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM events WHERE n IS NULL AND b IS NULL AND j IS NULL "
                         "AND k IS NULL"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 16);
}

// Numbers are written exactly as PostgreSQL's own numeric input reads their text.
TEST_F(ColumnMappingTest, NumericValuesAreExact) {
  ASSERT_EQ(db_.Exec("CREATE TABLE nums (i int, d numeric)"), "");
  auto sink = Sink("nums", {"i=/i:integer", "d=/d:numeric"});
  ASSERT_TRUE(sink.ok()) << sink.status();
  const std::vector<std::string> values = {
      "0",
      "-0",
      "1",
      "-1",
      "9999",
      "10000",
      "0.0001",
      "0.00010",
      "12345.678",
      "-0.000001",
      "1.5e3",
      "1E+3",
      "1e-7",
      "123456789012345678901234567890.123456789012345678901234567890",
      "100000000",
      "0.5",
      "-99999999.99999999",
      "7e1000",
      "1e-1000"};
  std::vector<Message> batch;
  for (size_t i = 0; i < values.size(); ++i) {
    batch.push_back(Json(absl::StrCat(R"({"i": )", i, R"(, "d": )", values[i], "}")));
  }
  WriteResult r = Write(sink->get(), batch);
  ASSERT_EQ(r.rows_written, static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM nums WHERE i = ", i,
                                        " AND d::text = ('", values[i], "'::numeric)::text")),
              1)
        << values[i];
  }
}

TEST_F(ColumnMappingTest, PreflightRefusesATableTheMappingCannotFill) {
  ASSERT_EQ(db_.Exec("CREATE TABLE t (a integer, b text NOT NULL, c text NOT NULL DEFAULT 'x', "
                     "d bigint GENERATED ALWAYS AS (a * 2) STORED, e varchar(10), f numeric(5,2), "
                     "g timestamp(3) with time zone, id bigint GENERATED ALWAYS AS IDENTITY)"),
            "");
  auto status = [&](const std::vector<std::string>& flags) {
    absl::StatusOr<std::unique_ptr<PostgresBatchSink>> s = Sink("t", flags);
    return s.ok() ? std::string("OK") : std::string(s.status().message());
  };
  EXPECT_EQ(status({"a=/a:integer", "b=/b:text", "nope=/x"}), "table t has no column nope (jsonb)");
  EXPECT_EQ(status({"a=/a:text", "b=/b:text"}), "table t column a is integer, need text");
  EXPECT_EQ(status({"a=/a:integer"}),
            "table t column b is NOT NULL without a default, and no mapped column fills it");
  EXPECT_EQ(status({"b=/b:text", "d=/a:bigint"}),
            "table t column d is generated; it cannot be written");
  // Modifiers the binary input applies itself are fine; defaults and identities fill
  // themselves.
  EXPECT_EQ(status({"b=/b:text", "e=/e:text", "f=/f:numeric", "g=/g:timestamptz(rfc3339)"}), "OK");
  absl::StatusOr<std::unique_ptr<PostgresBatchSink>> s = Sink("t", {"b=/b:text", "a=/a:integer"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kOk);
  s = Sink("missing_table", {"b=/b:text"});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ColumnMappingTest, CreateTableMakesTheMappedColumns) {
  auto sink = Sink("made", {"Project Id=/p:bigint", "at=timestamp", "body=payload"},
                   /*create_table=*/true);
  ASSERT_TRUE(sink.ok()) << sink.status();
  WriteResult r = Write(sink->get(), {Json(R"({"p": 5})")});
  EXPECT_EQ(r.rows_written, 1);
  EXPECT_EQ(
      db_.QueryInt(
          R"(SELECT count(*) FROM made WHERE "Project Id" = 5 AND at IS NULL AND body->>'p' = '5')"),
      1);
}

// BadRowTolerance NONE: a batch holding a bad row is not written at all.
TEST_F(ColumnMappingTest, ToleranceNoneWritesNothingOfABatchWithABadRow) {
  ASSERT_EQ(db_.Exec("CREATE TABLE t (n integer CHECK (n <> 3))"), "");
  PostgresSinkConfig c;
  c.connection.host = db_.host;
  c.connection.port = db_.port;
  c.connection.user = db_.user;
  c.connection.dbname = db_.dbname;
  c.consumer_group = "g";
  c.table = "t";
  ASSERT_EQ(ParseColumnFlag("n=/n:integer", c.columns.Add()), "");
  c.refuse_bad_rows = true;
  absl::StatusOr<std::unique_ptr<PostgresBatchSink>> sink = PostgresBatchSink::Create(c);
  ASSERT_TRUE(sink.ok()) << sink.status();
  for (const char* bad : {R"({"n": "x"})", R"({"n": 3})"}) {  // the encoder's; the table's
    OffsetFence fence;
    fence.Claim(kP0, std::nullopt, 0);
    Batch b;
    for (int i = 0; i < 5; ++i) {
      b.messages.push_back(Message{
          kP0.topic, kP0.partition, i, std::nullopt,
          i == 2 ? std::string(bad) : absl::StrCat(R"({"n": )", 10 + i, "}"), std::nullopt});
    }
    b.next_offsets[kP0] = 5;
    b.continues_from[kP0] = 0;
    absl::StatusOr<WriteResult> r = (*sink)->Write(b, *fence.Plan(b));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
    EXPECT_TRUE(absl::StrContains(r.status().message(),
                                  "bad rows: the row at events/3 offset 2 was refused ("))
        << r.status();
    EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM t"), 0);
    EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters"), 0);
    EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_offsets"), 0);
  }
}

Message Keyed(const std::string& key, const std::optional<std::string>& payload) {
  Message m;
  m.key = key;
  m.payload = payload;
  return m;
}

// Issue 11, upsert: within a batch the last offset of a key wins, across batches
// the later batch, and a tombstone deletes the key's row.
TEST_F(ColumnMappingTest, UpsertKeepsTheLastValueOfEachKeyAndTombstonesDelete) {
  ASSERT_EQ(db_.Exec("CREATE TABLE state (id text PRIMARY KEY, v bigint, at bigint NOT NULL, "
                     "note text DEFAULT 'kept')"),
            "");
  auto sink = UpsertSink("state", {"id=key:text", "v=/v:bigint", "at=offset"}, {"id"},
                         /*delete_on_tombstone=*/true);
  ASSERT_TRUE(sink.ok()) << sink.status();
  WriteResult r = Write(
      sink->get(), {Keyed("a", R"({"v": 1})"), Keyed("b", R"({"v": 2})"), Keyed("a", R"({"v": 3})"),
                    Keyed("c", R"({"v": 4})"), Keyed("c", std::nullopt), Keyed("d", std::nullopt)});
  EXPECT_EQ(r.rows_written, 6);
  EXPECT_EQ(r.dead_letters, 0);
  auto rows = [&] { return db_.QueryInt("SELECT count(*) FROM state"); };
  auto holds = [&](const std::string& condition) {
    return db_.QueryInt("SELECT count(*) FROM state WHERE " + condition) == 1;
  };
  // c was put and deleted in the same batch; d never existed.
  EXPECT_EQ(rows(), 2);
  EXPECT_TRUE(holds("id = 'a' AND v = 3 AND at = 2 AND note = 'kept'"));
  EXPECT_TRUE(holds("id = 'b' AND v = 2 AND at = 1"));
  r = Write(sink->get(),
            {Keyed("b", R"({"v": 9})"), Keyed("a", std::nullopt), Keyed("c", R"({"v": 5})")}, 6);
  EXPECT_EQ(r.rows_written, 3);
  EXPECT_EQ(rows(), 2);
  EXPECT_TRUE(holds("id = 'b' AND v = 9 AND at = 6"));
  EXPECT_TRUE(holds("id = 'c' AND v = 5 AND at = 8"));
  EXPECT_EQ(db_.QueryInt("SELECT next_offset FROM sluice_offsets"), 9);
}

// Rows the merge refuses (here a CHECK on the table) are isolated like a COPY's;
// a NULL key is refused before anything is sent.
TEST_F(ColumnMappingTest, UpsertIsolatesRefusedRowsAndRefusesANullKey) {
  ASSERT_EQ(db_.Exec("CREATE TABLE state (id text, region text, v bigint CHECK (v >= 0), "
                     "PRIMARY KEY (region, id))"),
            "");
  auto sink =
      UpsertSink("state", {"id=/id:text", "region=header:region", "v=/v:bigint"}, {"id", "region"});
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::vector<Message> batch;
  for (int i = 0; i < 40; ++i) {
    Message m = Json(absl::StrCat(R"({"id": "k)", i % 10, R"(", "v": )", i == 37 ? -1 : i, "}"));
    m.headers = {{"region", i % 2 == 0 ? "eu" : "us"}};
    batch.push_back(m);
  }
  batch[25].headers.clear();  // no region: a NULL in the key
  WriteResult r = Write(sink->get(), batch);
  EXPECT_EQ(r.dead_letters, 2);
  EXPECT_EQ(r.rows_written, 38);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 37 AND "
                         "sqlstate = '23514'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE kafka_offset = 25 AND "
                         "sqlstate = '23502' AND error LIKE 'column \"region\" (header:region):%'"),
            1);
  // Each (region, id) holds the last of its values that landed: ids k0..k9 (even
  // ones in eu, odd ones in us) from i = 30..39, except k7, whose 37 was refused:
  // its 27 stands.
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM state"), 10);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM state WHERE v >= 30"), 9);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM state WHERE id = 'k7' AND region = 'us' AND v = 27"),
            1);
}

// Rows are locked in key order before any is written, tombstoned or not: a writer
// waiting for a key holds no lock on a later one, so two writers whose batches
// upsert and delete overlapping keys queue instead of deadlocking. Here the
// batch upserts b and deletes a while another session holds a: the writer waits
// at a, and b stays free.
TEST_F(ColumnMappingTest, UpsertLocksTheBatchKeysInKeyOrderBeforeWriting) {
  ASSERT_EQ(db_.Exec("CREATE TABLE state (id text PRIMARY KEY, v bigint, at bigint); "
                     "INSERT INTO state VALUES ('a', 0, NULL), ('b', 0, NULL)"),
            "");
  auto sink = UpsertSink("state", {"id=key:text", "v=/v:bigint", "at=offset"}, {"id"},
                         /*delete_on_tombstone=*/true);
  ASSERT_TRUE(sink.ok()) << sink.status();
  PgDatabase::Session holder = db_.OpenSession();
  ASSERT_EQ(holder.Exec("BEGIN; SELECT 1 FROM state WHERE id = 'a' FOR UPDATE"), "");
  WriteResult r;
  std::thread writer([&] {
    r = Write(sink->get(), {Keyed("b", R"({"v": 1})"), Keyed("a", std::nullopt)});
  });
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (db_.QueryInt("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                      "AND wait_event_type = 'Lock'") == 0 &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  PgDatabase::Session probe = db_.OpenSession();
  EXPECT_EQ(probe.Exec("BEGIN; SELECT 1 FROM state WHERE id = 'b' FOR UPDATE NOWAIT; ROLLBACK"),
            "");
  ASSERT_EQ(holder.Exec("ROLLBACK"), "");
  writer.join();
  EXPECT_EQ(r.rows_written, 2);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM state"), 1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM state WHERE id = 'b' AND v = 1 AND at = 0"), 1);
}

// A dead letter keeps the message's timestamp and headers, so a replay maps them
// again (through the controller's replayer, as `sluicectl deadletters replay`).
TEST_F(ColumnMappingTest, AReplayMapsTheTimestampAndHeadersAgain) {
  ASSERT_EQ(db_.Exec("CREATE TABLE t (v bigint, region text, at timestamptz, "
                     "CONSTRAINT no_threes CHECK (v <> 3))"),
            "");
  const std::vector<std::string> columns = {"v=/v:bigint", "region=header:region",
                                            "at=timestamp:timestamptz"};
  auto sink = Sink("t", columns);
  ASSERT_TRUE(sink.ok()) << sink.status();
  std::vector<Message> batch;
  for (int i = 0; i < 5; ++i) {
    Message m = Json(absl::StrCat(R"({"v": )", i, "}"));
    m.headers = {{"trace", std::nullopt}, {"region", absl::StrCat("r", i)}};
    m.headers_read = true;
    m.timestamp = absl::FromUnixMillis(1700000000000 + i);
    batch.push_back(m);
  }
  EXPECT_EQ(Write(sink->get(), batch).dead_letters, 1);
  // Two the pipeline as it is cannot write: one from the legacy path of a rollout
  // since removed, one whose headers were not kept. Left pending, untouched.
  ASSERT_EQ(db_.Exec("INSERT INTO sluice_dead_letters (consumer_group, topic, kafka_partition, "
                     "kafka_offset, payload, error, kafka_timestamp, headers, rollout_path) "
                     "VALUES ('g', 'events', 3, 100, '{\"v\": 100}', 'e1', now(), '', 'legacy'), "
                     "('g', 'events', 3, 101, '{\"v\": 101}', 'e2', now(), NULL, 'kafka')"),
            "");
  ASSERT_EQ(db_.Exec("ALTER TABLE t DROP CONSTRAINT no_threes"), "");
  v1::PipelineConfig pipeline;
  pipeline.set_name("p");
  pipeline.set_consumer_group("g");
  pipeline.mutable_target()->set_table("t");
  for (const std::string& flag : columns)
    ASSERT_EQ(ParseColumnFlag(flag, pipeline.add_columns()), "");
  v1::DeadLetterFilter filter;
  filter.set_pipeline("p");
  controller::DeadLetterReplayer replayer(db_.ConnectionString());
  absl::StatusOr<v1::ReplayDeadLettersResponse> replayed =
      replayer.Replay(pipeline, filter, "test", nullptr, absl::Now());
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->replayed(), 1);
  EXPECT_EQ(replayed->selected(), 3);
  EXPECT_EQ(replayed->left_pending(), 2);
  EXPECT_NE(replayed->left_pending_reason().find("legacy path"), std::string::npos)
      << replayed->left_pending_reason();
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE state = 'pending' AND "
                         "((kafka_offset = 100 AND error = 'e1') OR (kafka_offset = 101 AND "
                         "error = 'e2'))"),
            2);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM t WHERE v = 3 AND region = 'r3' AND "
                         "at = to_timestamp(1700000000.003)"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM t"), 5);
}

TEST_F(ColumnMappingTest, UpsertNeedsAUniqueIndexOnExactlyTheKey) {
  ASSERT_EQ(db_.Exec("CREATE TABLE t (a text, b text, c text); "
                     "CREATE UNIQUE INDEX t_ab ON t (a, b) INCLUDE (c); "
                     "CREATE UNIQUE INDEX t_c_partial ON t (c) WHERE c <> ''; "
                     "CREATE UNIQUE INDEX t_lower ON t (lower(b))"),
            "");
  auto status = [&](const std::vector<std::string>& keys) {
    absl::StatusOr<std::unique_ptr<PostgresBatchSink>> s =
        UpsertSink("t", {"a=/a:text", "b=/b:text", "c=/c:text"}, keys);
    return s.ok() ? std::string("OK") : std::string(s.status().message());
  };
  EXPECT_EQ(status({"b", "a"}), "OK");
  EXPECT_EQ(status({"a"}),
            "table t has no unique index on (a) for the upsert key (a primary key or a unique "
            "index on exactly these columns, valid, not deferrable, without a WHERE clause or "
            "expressions)");
  EXPECT_EQ(status({"c"}).substr(0, 38), "table t has no unique index on (c) for");
  EXPECT_EQ(status({"b"}).substr(0, 38), "table t has no unique index on (b) for");
}

}  // namespace
}  // namespace sluice::worker
