#include "worker/postgres/postgres_batch_sink.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/column_mapping.h"
#include "common/sluice_schema.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "worker/postgres/copy_binary_encoder.h"
#include "worker/postgres/copy_encoder.h"
#include "worker/postgres/pg_connection.h"
#include "worker/postgres/sql_identifiers.h"

namespace sluice::worker {
namespace {

using ::sluice::v1::PayloadFormat;

const char* PayloadColumnType(PayloadFormat format) {
  switch (format) {
    case ::sluice::v1::PAYLOAD_FORMAT_TEXT:
      return "text";
    case ::sluice::v1::PAYLOAD_FORMAT_BYTES:
      return "bytea";
    default:
      return "jsonb";
  }
}

// Per session: dead letters are COPYed here, then merged into sluice_dead_letters
// with ON CONFLICT (COPY itself has none). Emptied at every commit or rollback.
constexpr char kCreateDeadLetterStage[] =
    "CREATE TEMP TABLE IF NOT EXISTS sluice_dead_letters_stage (consumer_group text, "
    "topic text, kafka_partition integer, kafka_offset bigint, kafka_key bytea, "
    "payload bytea, error text, sqlstate text) ON COMMIT DELETE ROWS";

constexpr char kMergeDeadLetters[] =
    "INSERT INTO sluice_dead_letters (consumer_group, topic, kafka_partition, kafka_offset, "
    "kafka_key, payload, error, sqlstate) SELECT consumer_group, topic, kafka_partition, "
    "kafka_offset, kafka_key, payload, error, sqlstate FROM sluice_dead_letters_stage "
    "ON CONFLICT (consumer_group, topic, kafka_partition, kafka_offset) DO UPDATE SET "
    "kafka_key = EXCLUDED.kafka_key, payload = EXCLUDED.payload, error = EXCLUDED.error, "
    "sqlstate = EXCLUDED.sqlstate, failed_at = now()";

// How much encoded COPY data is sent at a time: large enough that the per-call
// cost vanishes, small enough that the server starts parsing early and the
// buffer stays in cache-friendly reach.
constexpr size_t kCopyChunkBytes = 256 << 10;

const absl::string_view* TuplesOf(const PostgresBatchSink::Rows& rows) {
  return rows.tuples.empty() ? nullptr : rows.tuples.data();
}

bool SameUpdates(const std::vector<OffsetUpdate>& a, const std::vector<OffsetUpdate>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].partition == b[i].partition) || a[i].expected != b[i].expected ||
        a[i].next != b[i].next) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string PostgresBatchSink::CreateTableSql(const std::string& quoted_table,
                                              PayloadFormat format) {
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", quoted_table,
                      " (topic text NOT NULL, kafka_partition integer NOT NULL, "
                      "kafka_offset bigint NOT NULL, kafka_key bytea, kafka_timestamp timestamptz, "
                      "payload ",
                      PayloadColumnType(format),
                      ", ingested_at timestamptz NOT NULL DEFAULT now(), "
                      "PRIMARY KEY (topic, kafka_partition, kafka_offset))");
}

std::string PostgresBatchSink::CreateMappedTableSql(
    const std::string& quoted_table,
    const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns) {
  std::vector<std::string> defs;
  for (const v1::ColumnMapping& c : columns) {
    defs.push_back(absl::StrCat(QuoteIdentifier(c.column()), " ", ColumnTypeName(c.type())));
  }
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", quoted_table, " (", absl::StrJoin(defs, ", "),
                      ")");
}

PostgresBatchSink::PostgresBatchSink(PostgresSinkConfig config)
    : config_(std::move(config)),
      quoted_table_(QuoteQualifiedName(config_.table)),
      quoted_legacy_table_(config_.legacy_table.empty() ? ""
                                                        : QuoteQualifiedName(config_.legacy_table)),
      validator_(config_.payload_format),
      standard_columns_(StandardColumns(config_.payload_format)) {}

PostgresBatchSink::~PostgresBatchSink() = default;

absl::StatusOr<std::unique_ptr<PostgresBatchSink>> PostgresBatchSink::Create(
    PostgresSinkConfig config) {
  std::unique_ptr<PostgresBatchSink> sink(new PostgresBatchSink(std::move(config)));
  if (!sink->config_.columns.empty()) {
    ASSIGN_OR_RETURN(sink->mapper_, MappedRowEncoder::Create(sink->config_.columns));
  }
  RETURN_IF_ERROR(sink->PrepareTables());
  return sink;
}

absl::Status PostgresBatchSink::EnsureConnected() {
  if (conn_ != nullptr && conn_->ok()) return absl::OkStatus();
  conn_.reset();
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn,
                   PgConnection::Connect(config_.connection));
  RETURN_IF_ERROR(conn->Run(kCreateDeadLetterStage));
  conn_ = std::move(conn);
  return absl::OkStatus();
}

absl::Status PostgresBatchSink::PrepareTables() {
  // Several workers may start at once; serialise DDL so CREATE ... IF NOT EXISTS
  // does not race on the catalog. The stage table needs sluice_dead_letters'
  // neighbours to exist first, so connect without it.
  ASSIGN_OR_RETURN(std::unique_ptr<PgConnection> conn,
                   PgConnection::Connect(config_.connection));
  absl::Status s = [&]() -> absl::Status {
    RETURN_IF_ERROR(conn->Run("BEGIN"));
    RETURN_IF_ERROR(conn->Run(kSchemaLock));
    RETURN_IF_ERROR(conn->Run(kCreateOffsetsTable));
    RETURN_IF_ERROR(conn->Run(kCreateDeadLettersTable));
    if (config_.create_table) {
      for (const std::string* table : {&quoted_table_, &quoted_legacy_table_}) {
        if (table->empty()) continue;
        RETURN_IF_ERROR(conn->Run(config_.columns.empty()
                                      ? CreateTableSql(*table, config_.payload_format)
                                      : CreateMappedTableSql(*table, config_.columns)));
      }
    }
    return conn->Run("COMMIT");
  }();
  if (!s.ok()) {
    conn->RollbackQuietly();
    return Annotate(s, "preparing Sluice's tables");
  }
  RETURN_IF_ERROR(conn->Run(kCreateDeadLetterStage));
  conn_ = std::move(conn);
  RETURN_IF_ERROR(CheckTable(config_.table, quoted_table_));
  if (!quoted_legacy_table_.empty()) {
    RETURN_IF_ERROR(CheckTable(config_.legacy_table, quoted_legacy_table_));
  }
  return absl::OkStatus();
}

absl::Status PostgresBatchSink::CheckTable(const std::string& table, const std::string& quoted) {
  ASSIGN_OR_RETURN(PgResult found, conn_->Exec("SELECT to_regclass($1) IS NOT NULL",
                                               {quoted.c_str()}));
  if (std::string(found.Value(0, 0)) != "t") {
    return absl::FailedPreconditionError(absl::StrCat(
        "table ", table, " does not exist (create it, or start with --create-table)"));
  }
  ASSIGN_OR_RETURN(
      PgResult cols,
      conn_->Exec("SELECT attname, format_type(atttypid, atttypmod), attnotnull AND NOT atthasdef "
                  "AND attidentity = '' AND attgenerated = '', attgenerated <> '' "
                  "FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT "
                  "attisdropped",
                  {quoted.c_str()}));
  struct Have {
    std::string type;
    bool needs_value = false;  // NOT NULL, no default, not generated
    bool generated = false;
  };
  std::map<std::string, Have> have;
  for (int i = 0; i < cols.rows(); ++i) {
    have[cols.Value(i, 0)] = Have{cols.Value(i, 1), std::string(cols.Value(i, 2)) == "t",
                                  std::string(cols.Value(i, 3)) == "t"};
  }
  const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns =
      config_.columns.empty() ? standard_columns_ : config_.columns;
  for (const v1::ColumnMapping& c : columns) {
    auto it = have.find(c.column());
    if (it == have.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "table ", table, " has no column ", c.column(), " (", ColumnTypeName(c.type()), ")"));
    }
    if (it->second.generated) {
      return absl::FailedPreconditionError(absl::StrCat("table ", table, " column ", c.column(),
                                                        " is generated; it cannot be written"));
    }
    if (!PostgresTypeAccepts(c.type(), it->second.type)) {
      return absl::FailedPreconditionError(absl::StrCat("table ", table, " column ", c.column(),
                                                        " is ", it->second.type, ", need ",
                                                        ColumnTypeName(c.type())));
    }
    have.erase(it);
  }
  for (const auto& [name, column] : have) {
    if (column.needs_value) {
      return absl::FailedPreconditionError(
          absl::StrCat("table ", table, " column ", name,
                       " is NOT NULL without a default, and no mapped column fills it"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<OffsetMap> PostgresBatchSink::ReadOffsets(
    const std::vector<TopicPartition>& partitions) {
  RETURN_IF_ERROR(EnsureConnected());
  OffsetMap stored;
  for (const TopicPartition& tp : partitions) {
    const std::string partition = std::to_string(tp.partition);
    ASSIGN_OR_RETURN(PgResult r,
                     conn_->Exec("SELECT next_offset FROM sluice_offsets WHERE consumer_group = $1 "
                                 "AND topic = $2 AND kafka_partition = $3",
                                 {config_.consumer_group.c_str(), tp.topic.c_str(),
                                  partition.c_str()}));
    if (r.rows() == 1) stored[tp] = std::stoll(r.Value(0, 0));
  }
  return stored;
}

absl::StatusOr<WriteResult> PostgresBatchSink::Write(const Batch& batch,
                                                     const std::vector<OffsetUpdate>& updates) {
  if (batch.empty()) return WriteResult{};
  RETURN_IF_ERROR(EnsureConnected());
  if (in_doubt_) {
    ASSIGN_OR_RETURN(bool landed, ResolveInDoubtCommit());
    InDoubt was = std::move(*in_doubt_);
    in_doubt_.reset();
    if (landed) {
      if (SameUpdates(was.updates, updates)) {
        LOG(INFO) << "the batch whose COMMIT answer was lost had committed; not writing it again";
        return was.result;
      }
      // Another batch committed meanwhile: this one's compare-and-set will fail
      // and the loop claims its partitions again.
      LOG(WARNING) << "a batch whose COMMIT answer was lost had committed";
    }
  }
  // What the validator (or, with a column mapping, the encoder) can tell without
  // PostgreSQL.
  Rows rows, legacy_rows;
  // With a column mapping: where each row's tuple lies in encoded_, per path.
  std::vector<std::pair<size_t, size_t>> at, legacy_at;
  std::vector<RejectedRow> rejected;
  rows.messages.reserve(batch.messages.size());
  encoded_.clear();
  for (const Message& m : batch.messages) {
    if (!m.unrouted_reason.empty()) {
      // No path could be decided for it (the ingest loop says why).
      rejected.push_back({&m, m.unrouted_reason, ""});
      continue;
    }
    if (m.path == Path::kLegacy && config_.legacy_skip) continue;  // only its offset moves
    const bool legacy = m.path == Path::kLegacy;
    if (mapper_ != nullptr) {
      const size_t start = encoded_.size();
      if (std::optional<Rejection> r = mapper_->AppendRow(m, &encoded_)) {
        rejected.push_back({&m, std::move(r->error), std::move(r->sqlstate)});
        continue;
      }
      (legacy ? legacy_at : at).emplace_back(start, encoded_.size());
    } else if (m.payload) {
      if (std::optional<Rejection> r = validator_.Check(*m.payload)) {
        rejected.push_back({&m, std::move(r->error), std::move(r->sqlstate)});
        continue;
      }
    }
    (legacy ? legacy_rows : rows).messages.push_back(&m);
  }
  // encoded_ no longer grows: its tuples can be viewed.
  for (auto [path, spans] :
       {std::make_pair(&rows, &at), std::make_pair(&legacy_rows, &legacy_at)}) {
    for (const auto& [begin, end] : *spans) {
      path->tuples.push_back(absl::string_view(encoded_).substr(begin, end - begin));
    }
  }
  absl::StatusOr<WriteResult> result =
      WriteOnce(batch, updates, rows, legacy_rows, rejected, /*isolate_rows=*/false);
  if (absl::IsInvalidArgument(result.status())) {
    LOG(WARNING) << "PostgreSQL refused a row (" << result.status().message()
                 << "); isolating the refused rows";
    result = WriteOnce(batch, updates, rows, legacy_rows, std::move(rejected),
                       /*isolate_rows=*/true);
  }
  return result;
}

absl::StatusOr<std::vector<TopicPartition>> PostgresBatchSink::MoveOffsets(
    const std::vector<OffsetUpdate>& updates) {
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(conn_->Run("BEGIN"));
  std::vector<TopicPartition> fenced;
  absl::Status s = UpdateOffsets(updates, &fenced);
  if (!s.ok() || !fenced.empty()) {
    conn_->RollbackQuietly();
    if (!s.ok()) return s;
    return fenced;
  }
  RETURN_IF_ERROR(conn_->Run("COMMIT"));
  return fenced;
}

absl::StatusOr<WriteResult> PostgresBatchSink::WriteOnce(const Batch& batch,
                                                         const std::vector<OffsetUpdate>& updates,
                                                         const Rows& rows, const Rows& legacy_rows,
                                                         std::vector<RejectedRow> rejected,
                                                         bool isolate_rows) {
  RETURN_IF_ERROR(conn_->Run("BEGIN"));
  std::string txid;
  std::vector<TopicPartition> fenced;
  absl::Status s = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(PgResult id, conn_->Exec("SELECT txid_current()"));
    txid = id.Value(0, 0);
    // Offsets first: a fenced writer fails before sending any rows.
    RETURN_IF_ERROR(UpdateOffsets(updates, &fenced));
    if (!fenced.empty()) return absl::OkStatus();
    if (isolate_rows) {
      // Deferred constraints would otherwise fail the COMMIT, not a row's COPY.
      RETURN_IF_ERROR(conn_->Run("SET CONSTRAINTS ALL IMMEDIATE"));
      RETURN_IF_ERROR(CopyIsolatingRows(rows.messages.data(), TuplesOf(rows), rows.messages.size(),
                                        quoted_table_, &rejected));
      RETURN_IF_ERROR(CopyIsolatingRows(legacy_rows.messages.data(), TuplesOf(legacy_rows),
                                        legacy_rows.messages.size(), quoted_legacy_table_,
                                        &rejected));
    } else {
      RETURN_IF_ERROR(CopyRows(rows.messages.data(), TuplesOf(rows), rows.messages.size(),
                               quoted_table_, nullptr));
      RETURN_IF_ERROR(CopyRows(legacy_rows.messages.data(), TuplesOf(legacy_rows),
                               legacy_rows.messages.size(), quoted_legacy_table_, nullptr));
    }
    if (!rejected.empty()) RETURN_IF_ERROR(WriteDeadLetters(rejected));
    return absl::OkStatus();
  }();
  if (!s.ok() || !fenced.empty()) {
    conn_->RollbackQuietly();
    if (!s.ok()) return s;
    WriteResult result;
    result.fenced = std::move(fenced);
    return result;
  }
  WriteResult result = AccountCommittedBatch(batch, rejected, config_.legacy_skip);
  absl::Status commit = conn_->Run("COMMIT");
  if (!commit.ok() && !conn_->ok()) {
    // The server may have committed before the connection dropped.
    in_doubt_ = InDoubt{txid, updates, result};
  }
  if (!commit.ok()) return commit;
  return result;
}

absl::Status PostgresBatchSink::UpdateOffsets(const std::vector<OffsetUpdate>& updates,
                                              std::vector<TopicPartition>* fenced) {
  for (const OffsetUpdate& u : updates) {
    const std::string partition = std::to_string(u.partition.partition);
    const std::string next = std::to_string(u.next);
    PgResult r;
    if (u.expected) {
      const std::string expected = std::to_string(*u.expected);
      ASSIGN_OR_RETURN(r, conn_->Exec("UPDATE sluice_offsets SET next_offset = $4, updated_at = "
                                      "now() WHERE consumer_group = $1 AND topic = $2 AND "
                                      "kafka_partition = $3 AND next_offset = $5",
                                      {config_.consumer_group.c_str(), u.partition.topic.c_str(),
                                       partition.c_str(), next.c_str(), expected.c_str()}));
    } else {
      ASSIGN_OR_RETURN(r, conn_->Exec("INSERT INTO sluice_offsets (consumer_group, topic, "
                                      "kafka_partition, next_offset) VALUES ($1, $2, $3, $4) "
                                      "ON CONFLICT DO NOTHING",
                                      {config_.consumer_group.c_str(), u.partition.topic.c_str(),
                                       partition.c_str(), next.c_str()}));
    }
    if (r.AffectedRows() != "1") fenced->push_back(u.partition);
  }
  return absl::OkStatus();
}

absl::Status PostgresBatchSink::CopyRows(const Message* const* rows,
                                         const absl::string_view* tuples, size_t n,
                                         const std::string& quoted_table, SqlError* error) {
  if (n == 0) return absl::OkStatus();
  // Binary: PostgreSQL copies length-prefixed fields instead of scanning every
  // payload byte for delimiters and escapes, and reads timestamps as integers
  // (~15% less server CPU than text on the realistic data set, docs/BENCHMARKS.md).
  // Encoded and sent a chunk at a time, into one reused buffer.
  size_t next = 0;
  bool started = false;
  bool ended = false;
  const absl::Status status = conn_->CopyIn(
      absl::StrCat("COPY ", quoted_table, " (",
                   mapper_ != nullptr ? mapper_->copy_columns() : kRowColumns,
                   ") FROM STDIN (FORMAT binary)"),
      [&]() -> absl::string_view {
        copy_chunk_.clear();
        if (ended) return copy_chunk_;
        if (!started) {
          AppendBinaryCopyHeader(&copy_chunk_);
          started = true;
        }
        while (next < n && copy_chunk_.size() < kCopyChunkBytes) {
          if (tuples != nullptr) {
            copy_chunk_.append(tuples[next].data(), tuples[next].size());
          } else {
            AppendBinaryRow(&copy_chunk_, *rows[next], config_.payload_format);
          }
          ++next;
        }
        if (next == n) {
          AppendBinaryCopyTrailer(&copy_chunk_);
          ended = true;
        }
        return copy_chunk_;
      },
      error);
  // A large message grew the buffer past its usual size: give that memory back.
  if (copy_chunk_.capacity() > 4 * kCopyChunkBytes) std::string().swap(copy_chunk_);
  return status;
}

absl::Status PostgresBatchSink::CopyIsolatingRows(const Message* const* rows,
                                                  const absl::string_view* tuples, size_t n,
                                                  const std::string& quoted_table,
                                                  std::vector<RejectedRow>* rejected) {
  if (n == 0) return absl::OkStatus();
  RETURN_IF_ERROR(conn_->Run("SAVEPOINT sluice_rows"));
  SqlError error;
  absl::Status copied = CopyRows(rows, tuples, n, quoted_table, &error);
  if (copied.ok()) return conn_->Run("RELEASE SAVEPOINT sluice_rows");
  if (error.kind != SqlErrorKind::kRow) return copied;
  RETURN_IF_ERROR(conn_->Run("ROLLBACK TO SAVEPOINT sluice_rows"));
  RETURN_IF_ERROR(conn_->Run("RELEASE SAVEPOINT sluice_rows"));
  if (n == 1) {
    rejected->push_back({rows[0], std::move(error.message), std::move(error.sqlstate)});
    return absl::OkStatus();
  }
  const size_t half = n / 2;
  RETURN_IF_ERROR(CopyIsolatingRows(rows, tuples, half, quoted_table, rejected));
  return CopyIsolatingRows(rows + half, tuples != nullptr ? tuples + half : nullptr, n - half,
                           quoted_table, rejected);
}

absl::Status PostgresBatchSink::WriteDeadLetters(const std::vector<RejectedRow>& rejected) {
  std::string data;
  for (const RejectedRow& r : rejected) {
    AppendDeadLetter(&data, config_.consumer_group, *r.message, r.error, r.sqlstate);
  }
  RETURN_IF_ERROR(conn_->CopyIn(
      "COPY sluice_dead_letters_stage (consumer_group, topic, kafka_partition, kafka_offset, "
      "kafka_key, payload, error, sqlstate) FROM STDIN",
      data));
  RETURN_IF_ERROR(conn_->Run(kMergeDeadLetters));
  // The stage empties at COMMIT; empty it now too, so a second call in the same
  // transaction cannot merge these rows twice.
  return conn_->Run("DELETE FROM sluice_dead_letters_stage");
}

absl::StatusOr<bool> PostgresBatchSink::ResolveInDoubtCommit() {
  // txid_status() answers from the commit log, so it cannot read "not landed"
  // while the COMMIT is still being applied: that is "in progress".
  ASSIGN_OR_RETURN(PgResult r, conn_->Exec("SELECT txid_status($1::bigint)",
                                           {in_doubt_->txid.c_str()}));
  if (r.IsNull(0, 0)) {
    // Too old for the commit log (wrapped around): it finished long ago, so the
    // stored offsets say whether it landed.
    for (const OffsetUpdate& u : in_doubt_->updates) {
      ASSIGN_OR_RETURN(OffsetMap stored, ReadOffsets({u.partition}));
      auto it = stored.find(u.partition);
      if (it == stored.end() || it->second != u.next) return false;
    }
    return true;
  }
  const std::string status = r.Value(0, 0);
  if (status == "committed") return true;
  if (status == "aborted") return false;
  return absl::UnavailableError(
      absl::StrCat("the outcome of transaction ", in_doubt_->txid, " is still ", status));
}

}  // namespace sluice::worker
