#include "worker/postgres_batch_sink.h"

#include <libpq-fe.h>

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/sluice_schema.h"
#include "common/status_macros.h"
#include "glog/logging.h"

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

// Escapes a value for PostgreSQL's COPY text format.
void AppendCopyEscaped(std::string* out, absl::string_view value) {
  if (value.find_first_of("\\\t\n\r") == absl::string_view::npos) {
    out->append(value.data(), value.size());
    return;
  }
  for (char c : value) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      default:
        out->push_back(c);
    }
  }
}

// A bytea value in COPY text format: \\x followed by hex digits.
void AppendCopyBytea(std::string* out, absl::string_view value) {
  static const char kHex[] = "0123456789abcdef";
  out->append("\\\\x");
  for (unsigned char c : value) {
    out->push_back(kHex[c >> 4]);
    out->push_back(kHex[c & 15]);
  }
}

std::string ByteaHex(absl::string_view value) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  for (unsigned char c : value) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string FormatTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", t, absl::UTCTimeZone());
}

// SQLSTATE classes after which the same batch may succeed on a new attempt.
bool IsTransientSqlState(absl::string_view state) {
  return absl::StartsWith(state, "08") ||   // connection exception
         absl::StartsWith(state, "53") ||   // insufficient resources
         absl::StartsWith(state, "57P") ||  // operator intervention (shutdown)
         state == "40001" ||                // serialization_failure
         state == "40P01" ||                // deadlock_detected
         state == "55P03";                  // lock_not_available
}

constexpr int64_t kCopyChunkBytes = 1 << 20;

}  // namespace

std::string QuoteQualifiedName(const std::string& name) {
  std::vector<std::string> parts = absl::StrSplit(name, '.');
  for (std::string& p : parts) {
    std::string quoted = "\"";
    for (char c : p) {
      if (c == '"') quoted.push_back('"');
      quoted.push_back(c);
    }
    quoted.push_back('"');
    p = quoted;
  }
  return absl::StrJoin(parts, ".");
}

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

PostgresBatchSink::PostgresBatchSink(PostgresSinkConfig config)
    : config_(std::move(config)),
      quoted_table_(QuoteQualifiedName(config_.table)),
      quoted_legacy_table_(config_.legacy_table.empty() ? ""
                                                        : QuoteQualifiedName(config_.legacy_table)),
      validator_(config_.payload_format) {}

PostgresBatchSink::~PostgresBatchSink() { Disconnect(); }

absl::StatusOr<std::unique_ptr<PostgresBatchSink>> PostgresBatchSink::Create(
    PostgresSinkConfig config) {
  std::unique_ptr<PostgresBatchSink> sink(new PostgresBatchSink(std::move(config)));
  RETURN_IF_ERROR(sink->Connect());
  RETURN_IF_ERROR(sink->PrepareTables());
  return sink;
}

absl::Status PostgresBatchSink::Connect() {
  Disconnect();
  const PostgresOptions& o = config_.connection;
  const std::string port = std::to_string(o.port);
  const std::string timeout = std::to_string(o.connect_timeout_seconds);
  std::vector<const char*> keys = {"host", "port", "dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values = {o.host.c_str(), port.c_str(), o.dbname.c_str(),
                                     timeout.c_str(), o.application_name.c_str()};
  if (!o.user.empty()) {
    keys.push_back("user");
    values.push_back(o.user.c_str());
  }
  if (!o.password.empty()) {
    keys.push_back("password");
    values.push_back(o.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), 0);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    std::string error = conn_ ? PQerrorMessage(conn_) : "out of memory";
    while (!error.empty() && error.back() == '\n') error.pop_back();
    Disconnect();
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL at ", o.host, ":",
                                               o.port, "/", o.dbname, ": ", error));
  }
  // CREATE ... IF NOT EXISTS notices are expected; keep them out of the logs.
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  return absl::OkStatus();
}

absl::Status PostgresBatchSink::EnsureConnected() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  return Connect();
}

void PostgresBatchSink::Disconnect() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
}

absl::Status PostgresBatchSink::ErrorFromResult(PGresult* result, const std::string& what) {
  const char* state_field = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string state = state_field ? state_field : "";
  std::string message = result ? PQresultErrorMessage(result) : "";
  if (message.empty() && conn_ != nullptr) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  const std::string text = absl::StrCat(what, ": ", message, state.empty() ? "" : " [SQLSTATE ",
                                        state, state.empty() ? "" : "]");
  const bool connection_lost = conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK;
  if (connection_lost || state.empty() || IsTransientSqlState(state)) {
    if (connection_lost) Disconnect();
    return absl::UnavailableError(text);
  }
  // Data exceptions and integrity violations belong to a row, not to the batch:
  // the caller isolates the row and dead-letters it.
  if (absl::StartsWith(state, "22") || absl::StartsWith(state, "23")) {
    return absl::InvalidArgumentError(text);
  }
  if (absl::StartsWith(state, "42")) return absl::FailedPreconditionError(text);
  return absl::InternalError(text);
}

absl::StatusOr<PGresult*> PostgresBatchSink::Exec(const std::string& sql,
                                                  const std::vector<const char*>& params) {
  if (conn_ == nullptr) return absl::UnavailableError("not connected to PostgreSQL");
  PGresult* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                  params.data(), nullptr, nullptr, 0);
  const ExecStatusType st = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN) return result;
  absl::Status error = ErrorFromResult(result, sql.substr(0, sql.find(' ', 12)));
  PQclear(result);
  return error;
}

absl::Status PostgresBatchSink::ExecCommand(const std::string& sql,
                                            const std::vector<const char*>& params) {
  ASSIGN_OR_RETURN(PGresult * result, Exec(sql, params));
  PQclear(result);
  return absl::OkStatus();
}

absl::Status PostgresBatchSink::PrepareTables() {
  // Several workers may start at once; serialise DDL so CREATE ... IF NOT EXISTS
  // does not race on the catalog.
  RETURN_IF_ERROR(ExecCommand("BEGIN"));
  absl::Status s = [&]() -> absl::Status {
    RETURN_IF_ERROR(ExecCommand(kSchemaLock));
    RETURN_IF_ERROR(ExecCommand(kCreateOffsetsTable));
    RETURN_IF_ERROR(ExecCommand(kCreateDeadLettersTable));
    if (config_.create_table) {
      RETURN_IF_ERROR(ExecCommand(CreateTableSql(quoted_table_, config_.payload_format)));
      if (!quoted_legacy_table_.empty()) {
        RETURN_IF_ERROR(ExecCommand(CreateTableSql(quoted_legacy_table_, config_.payload_format)));
      }
    }
    return ExecCommand("COMMIT");
  }();
  if (!s.ok()) {
    if (conn_ != nullptr) PQclear(PQexec(conn_, "ROLLBACK"));
    return Annotate(s, "preparing Sluice's tables");
  }
  RETURN_IF_ERROR(CheckTable(config_.table, quoted_table_));
  if (!quoted_legacy_table_.empty()) {
    RETURN_IF_ERROR(CheckTable(config_.legacy_table, quoted_legacy_table_));
  }
  return absl::OkStatus();
}

absl::Status PostgresBatchSink::CheckTable(const std::string& table, const std::string& quoted) {
  ASSIGN_OR_RETURN(PGresult * found, Exec("SELECT to_regclass($1) IS NOT NULL", {quoted.c_str()}));
  const bool exists = std::strcmp(PQgetvalue(found, 0, 0), "t") == 0;
  PQclear(found);
  if (!exists) {
    return absl::FailedPreconditionError(absl::StrCat(
        "table ", table, " does not exist (create it, or start with --create-table)"));
  }
  ASSIGN_OR_RETURN(PGresult * cols,
                   Exec("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                        "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
                        {quoted.c_str()}));
  std::map<std::string, std::string> have;
  for (int i = 0; i < PQntuples(cols); ++i) have[PQgetvalue(cols, i, 0)] = PQgetvalue(cols, i, 1);
  PQclear(cols);
  const std::vector<std::pair<std::string, std::string>> need = {
      {"topic", "text"},
      {"kafka_partition", "integer"},
      {"kafka_offset", "bigint"},
      {"kafka_key", "bytea"},
      {"kafka_timestamp", "timestamp with time zone"},
      {"payload", PayloadColumnType(config_.payload_format)}};
  for (const auto& [name, type] : need) {
    auto it = have.find(name);
    if (it == have.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("table ", table, " has no column ", name, " (", type, ")"));
    }
    if (it->second != type) {
      return absl::FailedPreconditionError(absl::StrCat("table ", table, " column ", name,
                                                        " is ", it->second, ", need ", type));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<OffsetMap> PostgresBatchSink::ClaimPartitions(
    const std::vector<TopicPartition>& partitions) {
  RETURN_IF_ERROR(EnsureConnected());
  OffsetMap stored;
  for (const TopicPartition& tp : partitions) {
    const std::string partition = std::to_string(tp.partition);
    ASSIGN_OR_RETURN(PGresult * r,
                     Exec("SELECT next_offset FROM sluice_offsets WHERE consumer_group = $1 "
                          "AND topic = $2 AND kafka_partition = $3",
                          {config_.consumer_group.c_str(), tp.topic.c_str(), partition.c_str()}));
    std::optional<int64_t> offset;
    if (PQntuples(r) == 1) offset = std::stoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    fence_.Claim(tp, offset);
    if (offset) stored[tp] = *offset;
  }
  return stored;
}

void PostgresBatchSink::ReleasePartitions(const std::vector<TopicPartition>& partitions) {
  for (const TopicPartition& tp : partitions) fence_.Release(tp);
}

std::optional<int64_t> PostgresBatchSink::FencePosition(const TopicPartition& partition) const {
  return fence_.Position(partition);
}

absl::StatusOr<WriteResult> PostgresBatchSink::Write(const Batch& batch) {
  last_fenced_.clear();
  if (batch.empty()) return WriteResult{};
  ASSIGN_OR_RETURN(std::vector<OffsetUpdate> updates, fence_.Plan(batch.next_offsets));
  RETURN_IF_ERROR(EnsureConnected());
  if (commit_in_doubt_) {
    ASSIGN_OR_RETURN(bool landed, ResolveInDoubtCommit(updates));
    commit_in_doubt_ = false;
    if (landed) {
      LOG(INFO) << "batch whose COMMIT answer was lost had committed; not writing it again";
      fence_.Advance(updates);
      return in_doubt_result_;
    }
  }
  absl::StatusOr<WriteResult> result = WriteOnce(batch, updates, /*row_by_row=*/false);
  if (absl::IsInvalidArgument(result.status())) {
    // COPY refused a value the validator let through: find it row by row.
    LOG(WARNING) << "COPY refused a row (" << result.status().message()
                 << "); retrying the batch row by row";
    result = WriteOnce(batch, updates, /*row_by_row=*/true);
  }
  if (result.ok()) fence_.Advance(updates);
  return result;
}

absl::StatusOr<WriteResult> PostgresBatchSink::WriteOnce(const Batch& batch,
                                                         const std::vector<OffsetUpdate>& updates,
                                                         bool row_by_row) {
  std::vector<const Message*> rows, legacy_rows;
  std::vector<Rejected> rejected;
  rows.reserve(batch.messages.size());
  WriteResult result;
  int64_t skipped = 0;
  for (const Message& m : batch.messages) {
    if (m.path == Path::kLegacy) {
      ++result.legacy_items;
      if (quoted_legacy_table_.empty()) {
        // legacy_skip: the legacy system ingests it; only its offset moves.
        ++skipped;
        continue;
      }
    } else {
      ++result.kafka_items;
    }
    if (m.payload) {
      if (std::optional<Rejection> r = validator_.Check(*m.payload)) {
        rejected.push_back({&m, std::move(r->error), std::move(r->sqlstate)});
        continue;
      }
    }
    (m.path == Path::kLegacy ? legacy_rows : rows).push_back(&m);
  }
  RETURN_IF_ERROR(ExecCommand("BEGIN"));
  absl::Status s = [&]() -> absl::Status {
    // Offsets first: a fenced writer fails before sending any rows.
    RETURN_IF_ERROR(UpdateOffsets(updates));
    if (row_by_row) {
      RETURN_IF_ERROR(InsertRowsOneByOne(rows, quoted_table_, &rejected));
      RETURN_IF_ERROR(InsertRowsOneByOne(legacy_rows, quoted_legacy_table_, &rejected));
    } else {
      RETURN_IF_ERROR(CopyRows(rows, quoted_table_));
      RETURN_IF_ERROR(CopyRows(legacy_rows, quoted_legacy_table_));
    }
    if (!rejected.empty()) RETURN_IF_ERROR(CopyDeadLetters(rejected));
    return absl::OkStatus();
  }();
  if (!s.ok()) {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) PQclear(PQexec(conn_, "ROLLBACK"));
    return s;
  }
  result.dead_letters = static_cast<int64_t>(rejected.size());
  result.rows_written =
      static_cast<int64_t>(batch.messages.size()) - result.dead_letters - skipped;
  for (const Message& m : batch.messages) {
    PartitionWrite& pw = result.partitions[m.topic_partition()];
    if (m.path == Path::kLegacy && quoted_legacy_table_.empty()) continue;
    ++pw.rows;
    pw.bytes += static_cast<int64_t>(m.payload_size());
  }
  for (const Rejected& r : rejected) {
    ++(r.message->path == Path::kLegacy ? result.legacy_dead_letters : result.kafka_dead_letters);
    PartitionWrite& pw = result.partitions[r.message->topic_partition()];
    --pw.rows;
    pw.bytes -= static_cast<int64_t>(r.message->payload_size());
    ++pw.dead_letters;
  }
  for (const auto& [tp, pw] : result.partitions) result.bytes_written += pw.bytes;
  absl::Status commit = ExecCommand("COMMIT");
  if (!commit.ok()) {
    // The server may have committed before the connection dropped.
    if (absl::IsUnavailable(commit)) {
      commit_in_doubt_ = true;
      in_doubt_result_ = result;
    }
    return commit;
  }
  return result;
}

absl::Status PostgresBatchSink::UpdateOffsets(const std::vector<OffsetUpdate>& updates) {
  for (const OffsetUpdate& u : updates) {
    const std::string partition = std::to_string(u.partition.partition);
    const std::string next = std::to_string(u.next);
    PGresult* r = nullptr;
    if (u.expected) {
      const std::string expected = std::to_string(*u.expected);
      ASSIGN_OR_RETURN(r, Exec("UPDATE sluice_offsets SET next_offset = $4, updated_at = now() "
                               "WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = $3 "
                               "AND next_offset = $5",
                               {config_.consumer_group.c_str(), u.partition.topic.c_str(),
                                partition.c_str(), next.c_str(), expected.c_str()}));
    } else {
      ASSIGN_OR_RETURN(r, Exec("INSERT INTO sluice_offsets (consumer_group, topic, "
                               "kafka_partition, next_offset) VALUES ($1, $2, $3, $4) "
                               "ON CONFLICT DO NOTHING",
                               {config_.consumer_group.c_str(), u.partition.topic.c_str(),
                                partition.c_str(), next.c_str()}));
    }
    const bool applied = std::strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    if (!applied) last_fenced_.push_back(u.partition);
  }
  if (last_fenced_.empty()) return absl::OkStatus();
  std::vector<std::string> names;
  for (const TopicPartition& tp : last_fenced_) {
    names.push_back(tp.ToString());
    fence_.Release(tp);
  }
  return absl::AbortedError(absl::StrCat(
      "fenced: the stored offsets of ", absl::StrJoin(names, ", "),
      " moved since this worker read them; another worker owns them now"));
}

absl::Status PostgresBatchSink::CopyRows(const std::vector<const Message*>& rows,
                                         const std::string& quoted_table) {
  if (rows.empty()) return absl::OkStatus();
  const bool bytes = config_.payload_format == ::sluice::v1::PAYLOAD_FORMAT_BYTES;
  std::string data;
  data.reserve(rows.size() * 64);
  for (const Message* m : rows) {
    AppendCopyEscaped(&data, m->topic);
    absl::StrAppend(&data, "\t", m->partition, "\t", m->offset, "\t");
    if (m->key) {
      AppendCopyBytea(&data, *m->key);
    } else {
      data.append("\\N");
    }
    data.push_back('\t');
    if (m->timestamp) {
      data.append(FormatTimestamp(*m->timestamp));
    } else {
      data.append("\\N");
    }
    data.push_back('\t');
    if (!m->payload) {
      data.append("\\N");
    } else if (bytes) {
      AppendCopyBytea(&data, *m->payload);
    } else {
      AppendCopyEscaped(&data, *m->payload);
    }
    data.push_back('\n');
  }
  return CopyBuffer(absl::StrCat("COPY ", quoted_table,
                                 " (topic, kafka_partition, kafka_offset, kafka_key, "
                                 "kafka_timestamp, payload) FROM STDIN"),
                    data);
}

absl::Status PostgresBatchSink::InsertRowsOneByOne(const std::vector<const Message*>& rows,
                                                   const std::string& quoted_table,
                                                   std::vector<Rejected>* rejected) {
  const bool bytes = config_.payload_format == ::sluice::v1::PAYLOAD_FORMAT_BYTES;
  const std::string insert =
      absl::StrCat("INSERT INTO ", quoted_table,
                   " (topic, kafka_partition, kafka_offset, kafka_key, kafka_timestamp, payload) "
                   "VALUES ($1, $2, $3, $4, $5, $6)");
  for (const Message* m : rows) {
    RETURN_IF_ERROR(ExecCommand("SAVEPOINT sluice_row"));
    const std::string partition = std::to_string(m->partition);
    const std::string offset = std::to_string(m->offset);
    const std::string key = m->key ? ByteaHex(*m->key) : "";
    const std::string ts = m->timestamp ? FormatTimestamp(*m->timestamp) : "";
    const std::string payload = m->payload ? (bytes ? ByteaHex(*m->payload) : *m->payload) : "";
    PGresult* r = PQexecParams(
        conn_, insert.c_str(), 6, nullptr,
        std::vector<const char*>{m->topic.c_str(), partition.c_str(), offset.c_str(),
                                 m->key ? key.c_str() : nullptr,
                                 m->timestamp ? ts.c_str() : nullptr,
                                 m->payload ? payload.c_str() : nullptr}
            .data(),
        nullptr, nullptr, 0);
    if (r != nullptr && PQresultStatus(r) == PGRES_COMMAND_OK) {
      PQclear(r);
      RETURN_IF_ERROR(ExecCommand("RELEASE SAVEPOINT sluice_row"));
      continue;
    }
    absl::Status error = ErrorFromResult(r, "INSERT");
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string sqlstate = state ? state : "";
    std::string message = primary ? primary : std::string(error.message());
    PQclear(r);
    if (!absl::IsInvalidArgument(error)) return error;
    RETURN_IF_ERROR(ExecCommand("ROLLBACK TO SAVEPOINT sluice_row"));
    rejected->push_back({m, std::move(message), std::move(sqlstate)});
  }
  return absl::OkStatus();
}

absl::Status PostgresBatchSink::CopyDeadLetters(const std::vector<Rejected>& rejected) {
  std::string data;
  for (const Rejected& r : rejected) {
    const Message& m = *r.message;
    AppendCopyEscaped(&data, config_.consumer_group);
    data.push_back('\t');
    AppendCopyEscaped(&data, m.topic);
    absl::StrAppend(&data, "\t", m.partition, "\t", m.offset, "\t");
    if (m.key) {
      AppendCopyBytea(&data, *m.key);
    } else {
      data.append("\\N");
    }
    data.push_back('\t');
    if (m.payload) {
      AppendCopyBytea(&data, *m.payload);
    } else {
      data.append("\\N");
    }
    data.push_back('\t');
    AppendCopyEscaped(&data, r.error);
    data.push_back('\t');
    AppendCopyEscaped(&data, r.sqlstate);
    data.push_back('\n');
  }
  // ON CONFLICT is not available to COPY; a message refused twice (after a
  // fenced or retried batch) cannot reach here twice because its offset moved.
  return CopyBuffer(
      "COPY sluice_dead_letters (consumer_group, topic, kafka_partition, kafka_offset, "
      "kafka_key, payload, error, sqlstate) FROM STDIN",
      data);
}

absl::Status PostgresBatchSink::CopyBuffer(const std::string& copy_sql, const std::string& data) {
  ASSIGN_OR_RETURN(PGresult * start, Exec(copy_sql));
  PQclear(start);
  for (size_t pos = 0; pos < data.size(); pos += kCopyChunkBytes) {
    const size_t n = std::min<size_t>(kCopyChunkBytes, data.size() - pos);
    if (PQputCopyData(conn_, data.data() + pos, static_cast<int>(n)) != 1) break;
  }
  PQputCopyEnd(conn_, nullptr);
  absl::Status status = absl::OkStatus();
  while (PGresult* r = PQgetResult(conn_)) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && status.ok()) {
      status = ErrorFromResult(r, copy_sql.substr(0, copy_sql.find(" (")));
    }
    PQclear(r);
    if (conn_ == nullptr) break;
  }
  return status;
}

absl::StatusOr<bool> PostgresBatchSink::ResolveInDoubtCommit(
    const std::vector<OffsetUpdate>& updates) {
  bool all_next = true;
  for (const OffsetUpdate& u : updates) {
    const std::string partition = std::to_string(u.partition.partition);
    ASSIGN_OR_RETURN(PGresult * r,
                     Exec("SELECT next_offset FROM sluice_offsets WHERE consumer_group = $1 "
                          "AND topic = $2 AND kafka_partition = $3",
                          {config_.consumer_group.c_str(), u.partition.topic.c_str(),
                           partition.c_str()}));
    std::optional<int64_t> stored;
    if (PQntuples(r) == 1) stored = std::stoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (stored != u.next) all_next = false;
  }
  return all_next;
}

}  // namespace sluice::worker
