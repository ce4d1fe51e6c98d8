#include "worker/postgres/postgres_batch_sink.h"

#include <algorithm>
#include <map>
#include <set>

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
    "payload bytea, error text, sqlstate text, kafka_timestamp timestamptz, headers bytea, "
    "rollout_path text) ON COMMIT DELETE ROWS";

constexpr char kMergeDeadLetters[] =
    "INSERT INTO sluice_dead_letters (consumer_group, topic, kafka_partition, kafka_offset, "
    "kafka_key, payload, error, sqlstate, kafka_timestamp, headers, rollout_path) SELECT "
    "consumer_group, topic, kafka_partition, kafka_offset, kafka_key, payload, error, sqlstate, "
    "kafka_timestamp, headers, rollout_path FROM sluice_dead_letters_stage "
    "ON CONFLICT (consumer_group, topic, kafka_partition, kafka_offset) DO UPDATE SET "
    "kafka_key = EXCLUDED.kafka_key, payload = EXCLUDED.payload, error = EXCLUDED.error, "
    "sqlstate = EXCLUDED.sqlstate, kafka_timestamp = EXCLUDED.kafka_timestamp, headers = "
    "EXCLUDED.headers, rollout_path = EXCLUDED.rollout_path, failed_at = now(), state = "
    "'pending', handled_at = NULL, handled_by = NULL";

// The stage's own columns in UPSERT mode: a row's place in its batch (the last
// of a key wins) and whether it deletes its key's row.
constexpr char kStageSeq[] = "__sluice_seq";
constexpr char kStageDeletes[] = "__sluice_deletes";

// A PostgreSQL text[] literal of `values`.
std::string TextArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const std::string& v : values) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    for (char c : v) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

// Rows one COPY's errors may name one by one before the rest is halved: each
// named row costs a COPY of all the rows left, halving costs about 2·log2(n) COPYs
// for one row, so naming wins for a few refused rows and halving for many.
constexpr int kMaxNamedRowsPerCopy = 8;

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

PostgresSinkConfig SinkConfigFor(const v1::PipelineConfig& pipeline,
                                 const PostgresOptions& connection) {
  PostgresSinkConfig sink;
  sink.connection = connection;
  sink.consumer_group = pipeline.consumer_group();
  sink.table = pipeline.target().table();
  sink.payload_format = pipeline.payload_format();
  sink.create_table = pipeline.target().create_table();
  sink.columns = pipeline.columns();
  sink.write_mode = pipeline.write_mode() == v1::WRITE_MODE_UNSPECIFIED ? v1::WRITE_MODE_INSERT
                                                                        : pipeline.write_mode();
  sink.key_columns.assign(pipeline.key_columns().begin(), pipeline.key_columns().end());
  sink.delete_on_tombstone = pipeline.delete_on_tombstone();
  sink.refuse_bad_rows = pipeline.bad_rows().mode() == v1::BadRowTolerance::MODE_NONE;
  if (pipeline.has_rollout()) {
    sink.legacy_table = pipeline.rollout().legacy_table();
    sink.legacy_skip = pipeline.rollout().skip();
  }
  return sink;
}

absl::Status PostgresBatchSink::CheckTarget(PostgresSinkConfig config) {
  std::unique_ptr<PostgresBatchSink> sink(new PostgresBatchSink(std::move(config)));
  if (!sink->config_.columns.empty()) {
    ASSIGN_OR_RETURN(sink->mapper_, MappedRowEncoder::Create(sink->config_.columns));
  }
  ASSIGN_OR_RETURN(sink->conn_, PgConnection::Connect(sink->config_.connection));
  for (const auto& [table, quoted] :
       {std::make_pair(sink->config_.table, sink->quoted_table_),
        std::make_pair(sink->config_.legacy_table, sink->quoted_legacy_table_)}) {
    if (quoted.empty()) continue;
    ASSIGN_OR_RETURN(PgResult found,
                     sink->conn_->Exec("SELECT to_regclass($1) IS NOT NULL", {quoted.c_str()}));
    if (std::string(found.Value(0, 0)) != "t" && sink->config_.create_table) continue;
    RETURN_IF_ERROR(sink->CheckTable(table, quoted));
  }
  return absl::OkStatus();
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
    sink->mapper_->RequireValues(sink->config_.key_columns);
  }
  if (sink->config_.write_mode == v1::WRITE_MODE_UPSERT && sink->mapper_ == nullptr) {
    return absl::InvalidArgumentError("write_mode: UPSERT needs a column mapping (columns)");
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
  for (const auto& [table, upsert] : upserts_) RETURN_IF_ERROR(conn->Run(upsert.create_stage));
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
    ASSIGN_OR_RETURN(PgResult missing, conn->Exec(kDeadLetterColumnsMissing));
    if (std::string(missing.Value(0, 0)) == "t") {
      RETURN_IF_ERROR(conn->Run(kAddDeadLetterColumns));
      RETURN_IF_ERROR(conn->Run(kCreateDeadLetterStateIndex));
    }
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
  for (const auto& [table, upsert] : upserts_) RETURN_IF_ERROR(conn_->Run(upsert.create_stage));
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
                  "AND attidentity = '' AND attgenerated = '', attgenerated <> '', "
                  "attidentity = 'a' "
                  "FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT "
                  "attisdropped",
                  {quoted.c_str()}));
  struct Have {
    std::string type;
    bool needs_value = false;  // NOT NULL, no default, not generated
    bool generated = false;
    bool identity_always = false;  // GENERATED ALWAYS AS IDENTITY
  };
  std::map<std::string, Have> have;
  for (int i = 0; i < cols.rows(); ++i) {
    have[cols.Value(i, 0)] =
        Have{cols.Value(i, 1), std::string(cols.Value(i, 2)) == "t",
             std::string(cols.Value(i, 3)) == "t", std::string(cols.Value(i, 4)) == "t"};
  }
  const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns =
      config_.columns.empty() ? standard_columns_ : config_.columns;
  std::map<std::string, std::string> mapped_types;  // for an UPSERT's stage
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
    if (it->second.identity_always && config_.write_mode == v1::WRITE_MODE_UPSERT) {
      // COPY fills one; an upsert's INSERT may not (428C9).
      return absl::FailedPreconditionError(
          absl::StrCat("table ", table, " column ", c.column(),
                       " is GENERATED ALWAYS AS IDENTITY; an upsert cannot write it"));
    }
    if (!PostgresTypeAccepts(c.type(), it->second.type)) {
      return absl::FailedPreconditionError(absl::StrCat("table ", table, " column ", c.column(),
                                                        " is ", it->second.type, ", need ",
                                                        ColumnTypeName(c.type())));
    }
    mapped_types[c.column()] = it->second.type;
    have.erase(it);
  }
  for (const auto& [name, column] : have) {
    if (column.needs_value) {
      return absl::FailedPreconditionError(
          absl::StrCat("table ", table, " column ", name,
                       " is NOT NULL without a default, and no mapped column fills it"));
    }
  }
  if (config_.write_mode == v1::WRITE_MODE_UPSERT) {
    RETURN_IF_ERROR(PrepareUpsert(table, quoted, mapped_types));
  }
  return absl::OkStatus();
}

absl::Status PostgresBatchSink::PrepareUpsert(
    const std::string& table, const std::string& quoted,
    const std::map<std::string, std::string>& mapped_types) {
  // ON CONFLICT needs a unique index on exactly the key columns (not partial, no
  // expressions); INCLUDE columns are not part of its key.
  const std::string keys = TextArrayLiteral(config_.key_columns);
  ASSIGN_OR_RETURN(
      PgResult found,
      conn_->Exec("SELECT count(*) FROM pg_index i WHERE i.indrelid = to_regclass($1) AND "
                  "i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL AND "
                  "i.indexprs IS NULL AND "
                  "(SELECT array_agg(a.attname::text COLLATE \"C\" ORDER BY a.attname::text "
                  "COLLATE \"C\") FROM pg_attribute a WHERE a.attrelid = i.indrelid AND "
                  "a.attnum = ANY((i.indkey::int2[])[0:i.indnkeyatts - 1])) = "
                  "(SELECT array_agg(k COLLATE \"C\" ORDER BY k COLLATE \"C\") FROM "
                  "unnest($2::text[]) k)",
                  {quoted.c_str(), keys.c_str()}));
  if (std::string(found.Value(0, 0)) == "0") {
    return absl::FailedPreconditionError(absl::StrCat(
        "table ", table, " has no unique index on (", absl::StrJoin(config_.key_columns, ", "),
        ") for the upsert key (a primary key or a unique index on exactly these columns, "
        "valid, not deferrable, without a WHERE clause or expressions)"));
  }
  Upsert u;
  u.stage = QuoteIdentifier(absl::StrCat("sluice_stage_", upserts_.size()));
  std::vector<std::string> defs, all, keys_quoted, sets;
  std::string offset_column;  // quoted; a mapped column holding the message's offset
  for (const v1::ColumnMapping& c : config_.columns) {
    if (c.source() == v1::COLUMN_SOURCE_OFFSET && c.type() != v1::COLUMN_TYPE_TEXT &&
        offset_column.empty()) {
      offset_column = QuoteIdentifier(c.column());
    }
    if (c.column() == kStageSeq || c.column() == kStageDeletes) {
      return absl::FailedPreconditionError(
          absl::StrCat("column ", c.column(), " is Sluice's own in UPSERT mode; rename it"));
    }
    const std::string q = QuoteIdentifier(c.column());
    defs.push_back(absl::StrCat(q, " ", mapped_types.at(c.column())));
    all.push_back(q);
    const bool is_key = std::find(config_.key_columns.begin(), config_.key_columns.end(),
                                  c.column()) != config_.key_columns.end();
    if (is_key) {
      keys_quoted.push_back(q);
    } else {
      sets.push_back(absl::StrCat(q, " = EXCLUDED.", q));
    }
  }
  const std::string key_list = absl::StrJoin(keys_quoted, ", ");
  // The stage holds whole rows, no constraints: what the table refuses is refused
  // by the merge (and isolated like a COPY's refusals).
  u.create_stage = absl::StrCat("CREATE TEMP TABLE IF NOT EXISTS ", u.stage, " (",
                                absl::StrJoin(defs, ", "), ", \"", kStageSeq, "\" integer, \"",
                                kStageDeletes, "\" boolean) ON COMMIT DELETE ROWS");
  const std::string last =
      absl::StrCat("WITH last AS (SELECT DISTINCT ON (", key_list, ") * FROM ", u.stage,
                   " ORDER BY ", key_list, ", \"", kStageSeq, "\" DESC) ");
  u.merge = absl::StrCat(
      last, "INSERT INTO ", quoted, " AS sluice_target (", absl::StrJoin(all, ", "), ") SELECT ",
      absl::StrJoin(all, ", "), " FROM last WHERE NOT \"", kStageDeletes, "\" ORDER BY ", key_list,
      " ON CONFLICT (", key_list, ") DO ",
      sets.empty() ? "NOTHING" : absl::StrCat("UPDATE SET ", absl::StrJoin(sets, ", ")));
  u.offset_guarded = !offset_column.empty();
  if (u.offset_guarded && !sets.empty()) {
    // Never over a newer value of the key (a replay, an offsets reset).
    absl::StrAppend(&u.merge, " WHERE sluice_target.", offset_column, " IS NULL OR sluice_target.",
                    offset_column, " < EXCLUDED.", offset_column);
  }
  if (config_.delete_on_tombstone) {
    std::vector<std::string> match;
    for (const std::string& k : keys_quoted) match.push_back(absl::StrCat("t.", k, " = last.", k));
    const std::string deleted =
        absl::StrCat(" WHERE ", absl::StrJoin(match, " AND "), " AND last.\"", kStageDeletes, "\"",
                     u.offset_guarded ? absl::StrCat(" AND (t.", offset_column, " IS NULL OR t.",
                                                     offset_column, " < last.", offset_column, ")")
                                      : "");
    // Every existing row of the batch's keys, put or tombstoned, is locked in key
    // order before anything is written: the merge and the delete are two
    // statements, each in key order, but together they are not (a writer could
    // hold a later key's row from the merge while it waits for an earlier one to
    // delete). Rows are deleted by their key: a ctid is neither unique across a
    // partitioned table's partitions nor stable while a lock waits on a
    // concurrent update.
    std::vector<std::string> joined;
    for (const std::string& k : keys_quoted) joined.push_back(absl::StrCat("t.", k, " = last.", k));
    u.lock_keys = absl::StrCat(last, "SELECT 1 FROM ", quoted, " t, last WHERE ",
                               absl::StrJoin(joined, " AND "), " ORDER BY ",
                               absl::StrJoin(keys_quoted, ", ",
                                             [](std::string* out, const std::string& k) {
                                               absl::StrAppend(out, "t.", k);
                                             }),
                               " FOR UPDATE OF t");
    u.remove = absl::StrCat(last, "DELETE FROM ", quoted, " t USING last", deleted);
  }
  upserts_[quoted] = std::move(u);
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
      if (std::optional<Rejection> r = validator_.Check(*m.payload, m.json ? &*m.json : nullptr)) {
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
  isolation_copies_ = 0;
  batch_begin_ = batch.messages.data();
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

absl::StatusOr<WriteResult> PostgresBatchSink::Replay(const Batch& batch,
                                                      const std::string& actor) {
  for (const auto& [table, upsert] : upserts_) {
    if (!upsert.offset_guarded) {
      return absl::FailedPreconditionError(
          "replaying into an upsert table needs a column mapped from the offset (--column "
          "NAME=offset), so that a replayed value never replaces a newer one of its key");
    }
  }
  replay_actor_ = actor;
  absl::StatusOr<WriteResult> result = Write(batch, {});
  replay_actor_.reset();
  return result;
}

absl::Status PostgresBatchSink::MarkReplayed(const Batch& batch,
                                             const std::vector<RejectedRow>& rejected) {
  std::set<const Message*> refused;
  for (const RejectedRow& r : rejected) refused.insert(r.message);
  std::vector<std::string> topics, partitions, offsets;
  for (const Message& m : batch.messages) {
    if (refused.count(&m) > 0) continue;
    topics.push_back(m.topic);
    partitions.push_back(std::to_string(m.partition));
    offsets.push_back(std::to_string(m.offset));
  }
  if (topics.empty()) return absl::OkStatus();
  const std::string t = TextArrayLiteral(topics), p = TextArrayLiteral(partitions),
                    o = TextArrayLiteral(offsets);
  ASSIGN_OR_RETURN(
      PgResult r,
      conn_->Exec("UPDATE sluice_dead_letters SET state = 'replayed', handled_at = now(), "
                  "handled_by = $2 WHERE consumer_group = $1 AND state = 'pending' AND (topic, "
                  "kafka_partition, kafka_offset) IN (SELECT * FROM unnest($3::text[], "
                  "$4::int[], $5::bigint[]))",
                  {config_.consumer_group.c_str(), replay_actor_->c_str(), t.c_str(), p.c_str(),
                   o.c_str()}));
  if (r.AffectedRows() != std::to_string(topics.size())) {
    return absl::AbortedError(absl::StrCat(
        "only ", r.AffectedRows(), " of the ", topics.size(),
        " dead letters to replay were still pending (another replay or a discard got there "
        "first); nothing was written"));
  }
  return absl::OkStatus();
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
      // What the first attempt learnt (it ran in a transaction rolled back since).
      auto known = [&](const std::string& table) {
        return first_failure_ && first_failure_->table == table ? &*first_failure_ : nullptr;
      };
      RETURN_IF_ERROR(CopyIsolatingRows(rows.messages.data(), TuplesOf(rows), rows.messages.size(),
                                        quoted_table_, &rejected, known(quoted_table_)));
      RETURN_IF_ERROR(CopyIsolatingRows(legacy_rows.messages.data(), TuplesOf(legacy_rows),
                                        legacy_rows.messages.size(), quoted_legacy_table_,
                                        &rejected, known(quoted_legacy_table_)));
    } else {
      first_failure_.reset();
      for (const auto& [path, table] : {std::make_pair(&rows, &quoted_table_),
                                        std::make_pair(&legacy_rows, &quoted_legacy_table_)}) {
        SqlError error;
        absl::Status put =
            PutRows(path->messages.data(), TuplesOf(*path), path->messages.size(), *table, &error);
        if (!put.ok()) {
          if (error.kind == SqlErrorKind::kRow) {
            first_failure_ = RowFailure{*table, error.message, error.sqlstate, error.copy_line};
          }
          return put;
        }
      }
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
  if (config_.refuse_bad_rows && !rejected.empty()) {
    conn_->RollbackQuietly();
    const RejectedRow& first = rejected.front();
    return absl::AbortedError(absl::StrCat(
        "bad rows: the row at ", first.message->topic_partition().ToString(), " offset ",
        first.message->offset, " was refused (", first.error,
        first.sqlstate.empty() ? "" : absl::StrCat(" [SQLSTATE ", first.sqlstate, "]"), ")",
        rejected.size() > 1 ? absl::StrCat(" with ", rejected.size() - 1, " more in its batch")
                            : "",
        "; the pipeline's bad_rows tolerance is none, so nothing of the batch was written"));
  }
  if (replay_actor_) {
    absl::Status marked = MarkReplayed(batch, rejected);
    if (!marked.ok()) {
      conn_->RollbackQuietly();
      return marked;
    }
  }
  WriteResult result = AccountCommittedBatch(batch, rejected, config_.legacy_skip);
  result.isolation_copies = isolation_copies_;
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

absl::Status PostgresBatchSink::PutRows(const Message* const* rows, const absl::string_view* tuples,
                                        size_t n, const std::string& quoted_table,
                                        SqlError* error) {
  if (n == 0) return absl::OkStatus();
  auto upsert = upserts_.find(quoted_table);
  if (upsert == upserts_.end()) return CopyRows(rows, tuples, n, quoted_table, error);
  // What an earlier attempt in this transaction staged is not this one's.
  RETURN_IF_ERROR(conn_->Run(absl::StrCat("DELETE FROM ", upsert->second.stage)));
  RETURN_IF_ERROR(CopyRows(rows, tuples, n, quoted_table, error));
  // Only a batch that deletes needs the lock first: a merge alone is one statement
  // in key order.
  if (!upsert->second.lock_keys.empty() &&
      std::any_of(rows, rows + n, [](const Message* m) { return !m->payload.has_value(); })) {
    RETURN_IF_ERROR(conn_->Run(upsert->second.lock_keys, {}, error));
  }
  RETURN_IF_ERROR(conn_->Run(upsert->second.merge, {}, error));
  if (!upsert->second.remove.empty()) {
    RETURN_IF_ERROR(conn_->Run(upsert->second.remove, {}, error));
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
  auto upsert = upserts_.find(quoted_table);
  const bool staged = upsert != upserts_.end();
  const absl::Status status = conn_->CopyIn(
      staged ? absl::StrCat("COPY ", upsert->second.stage, " (", mapper_->copy_columns(), ", \"",
                            kStageSeq, "\", \"", kStageDeletes, "\") FROM STDIN (FORMAT binary)")
             : absl::StrCat("COPY ", quoted_table, " (",
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
          if (staged) {
            // The tuple with two more fields: its place in the batch, and whether
            // it deletes its key's row.
            AppendBinaryInt16(&copy_chunk_, static_cast<int16_t>(mapper_->columns().size() + 2));
            copy_chunk_.append(tuples[next].data() + 2, tuples[next].size() - 2);
            AppendBinaryInt32(&copy_chunk_, 4);
            AppendBinaryInt32(&copy_chunk_, static_cast<int32_t>(rows[next] - batch_begin_));
            AppendBinaryInt32(&copy_chunk_, 1);
            copy_chunk_.push_back(config_.delete_on_tombstone && !rows[next]->payload ? '\1'
                                                                                      : '\0');
          } else if (tuples != nullptr) {
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
                                                  std::vector<RejectedRow>* rejected,
                                                  const RowFailure* failed) {
  // The rows still to land (and their tuples, with a column mapping), as indexes.
  std::vector<size_t> left(n);
  for (size_t i = 0; i < n; ++i) left[i] = i;
  // Writes rows `which` in a savepoint; on a row error rolls back to it and fills
  // *error. OK: written; INVALID_ARGUMENT: a row error; anything else: failed.
  std::vector<const Message*> picked;
  std::vector<absl::string_view> picked_tuples;
  auto attempt = [&](const std::vector<size_t>& which, SqlError* error) -> absl::Status {
    picked.clear();
    picked_tuples.clear();
    for (size_t i : which) {
      picked.push_back(rows[i]);
      if (tuples != nullptr) picked_tuples.push_back(tuples[i]);
    }
    RETURN_IF_ERROR(conn_->Run("SAVEPOINT sluice_rows"));
    ++isolation_copies_;
    absl::Status put = PutRows(picked.data(), tuples != nullptr ? picked_tuples.data() : nullptr,
                               picked.size(), quoted_table, error);
    if (put.ok()) return conn_->Run("RELEASE SAVEPOINT sluice_rows");
    if (error->kind != SqlErrorKind::kRow) return put;
    RETURN_IF_ERROR(conn_->Run("ROLLBACK TO SAVEPOINT sluice_rows"));
    RETURN_IF_ERROR(conn_->Run("RELEASE SAVEPOINT sluice_rows"));
    return absl::InvalidArgumentError("refused");
  };
  auto reject = [&](size_t i, SqlError& error) {
    rejected->push_back({rows[i], error.message, error.sqlstate});
  };

  SqlError error;
  bool known = false;  // `error` is how `left` was refused
  if (failed != nullptr) {
    error.kind = SqlErrorKind::kRow;
    error.message = failed->message;
    error.sqlstate = failed->sqlstate;
    error.copy_line = failed->copy_line;
    known = true;
  }
  // Named rows: a refused COPY says where it stopped ("line N"): that row alone
  // goes, the others are sent again.
  for (int named = 0; !left.empty(); ++named) {
    if (!known) {
      absl::Status s = attempt(left, &error);
      if (s.ok()) return absl::OkStatus();
      if (!absl::IsInvalidArgument(s)) return s;
    }
    known = false;
    const size_t k = static_cast<size_t>(error.copy_line) - 1;
    if (left.size() == 1) {
      reject(left[0], error);
      return absl::OkStatus();
    }
    if (error.copy_line <= 0 || k >= left.size() || named >= kMaxNamedRowsPerCopy) break;
    reject(left[k], error);
    left.erase(left.begin() + static_cast<std::ptrdiff_t>(k));
  }
  if (left.empty()) return absl::OkStatus();
  // No row named (a foreign key is checked after the last row, a merge has none to
  // name), or many refused rows: halves. `left` is known to be refused with
  // `error`. Its first half is tried: written, the second half is the refused one
  // (split on without being sent whole); refused, the search goes on in it and the
  // second half is set aside, to be written with the others set aside at the end.
  // One refused row in n costs about log2(n) + 1 COPYs.
  std::vector<size_t> aside;
  while (left.size() > 1) {
    const size_t half = left.size() / 2;
    std::vector<size_t> first(left.begin(), left.begin() + static_cast<std::ptrdiff_t>(half));
    std::vector<size_t> second(left.begin() + static_cast<std::ptrdiff_t>(half), left.end());
    SqlError first_error;
    absl::Status s = attempt(first, &first_error);
    if (s.ok()) {
      left = std::move(second);
      continue;
    }
    if (!absl::IsInvalidArgument(s)) return s;
    aside.insert(aside.begin(), second.begin(), second.end());
    left = std::move(first);
    error = std::move(first_error);
  }
  // The last one is refused: `error` came from the smallest set that held it
  // and was refused while the rest of that set landed.
  reject(left[0], error);
  if (aside.empty()) return absl::OkStatus();
  std::vector<const Message*> aside_rows;
  std::vector<absl::string_view> aside_tuples;
  for (size_t i : aside) {
    aside_rows.push_back(rows[i]);
    if (tuples != nullptr) aside_tuples.push_back(tuples[i]);
  }
  return CopyIsolatingRows(aside_rows.data(), tuples != nullptr ? aside_tuples.data() : nullptr,
                           aside_rows.size(), quoted_table, rejected, nullptr);
}

absl::Status PostgresBatchSink::WriteDeadLetters(const std::vector<RejectedRow>& rejected) {
  std::string data;
  for (const RejectedRow& r : rejected) {
    AppendDeadLetter(&data, config_.consumer_group, *r.message, r.error, r.sqlstate);
  }
  RETURN_IF_ERROR(conn_->CopyIn(
      "COPY sluice_dead_letters_stage (consumer_group, topic, kafka_partition, kafka_offset, "
      "kafka_key, payload, error, sqlstate, kafka_timestamp, headers, rollout_path) FROM STDIN",
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
