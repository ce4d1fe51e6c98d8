#include "worker/postgres/pg_connection.h"

#include <libpq-fe.h>

#include "absl/strings/str_cat.h"

namespace sluice::worker {
namespace {

constexpr size_t kCopyChunkBytes = 1 << 20;

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The statement's first words, for error context ("COPY \"raw_items\"", "UPDATE").
std::string StatementName(absl::string_view sql) {
  const size_t cut = sql.find_first_of("(\n", 0);
  absl::string_view head = sql.substr(0, std::min<size_t>(cut, 40));
  while (!head.empty() && head.back() == ' ') head.remove_suffix(1);
  return std::string(head);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgConnection>> PgConnection::Connect(const PostgresOptions& o) {
  const std::string port = std::to_string(o.port);
  const std::string connect_timeout = std::to_string(o.connect_timeout_seconds);
  const std::string keepalives_idle = std::to_string(o.keepalives_idle_seconds);
  const std::string keepalives_interval = std::to_string(o.keepalives_interval_seconds);
  const std::string keepalives_count = std::to_string(o.keepalives_count);
  const std::string tcp_user_timeout = std::to_string(o.tcp_user_timeout_ms);
  // Session settings travel in the startup packet: no extra round trip.
  const std::string session = absl::StrCat(
      "-c statement_timeout=", o.statement_timeout_ms, " -c lock_timeout=", o.lock_timeout_ms,
      " -c idle_in_transaction_session_timeout=", o.idle_in_transaction_timeout_ms);
  std::vector<const char*> keys = {"host",
                                   "port",
                                   "dbname",
                                   "connect_timeout",
                                   "application_name",
                                   "keepalives",
                                   "keepalives_idle",
                                   "keepalives_interval",
                                   "keepalives_count",
                                   "tcp_user_timeout",
                                   "options"};
  std::vector<const char*> values = {
      o.host.c_str(), port.c_str(),
      // A connection string is expanded where dbname
      // stands: its parameters override host and port.
      o.conninfo.empty() ? o.dbname.c_str() : o.conninfo.c_str(), connect_timeout.c_str(),
      o.application_name.c_str(), "1", keepalives_idle.c_str(), keepalives_interval.c_str(),
      keepalives_count.c_str(), tcp_user_timeout.c_str(), session.c_str()};
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
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), o.conninfo.empty() ? 0 : 1);
  if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    std::string error = Trimmed(conn ? PQerrorMessage(conn) : "out of memory");
    if (conn != nullptr) PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL at ", o.host, ":",
                                               o.port, "/", o.dbname, ": ", error));
  }
  // CREATE ... IF NOT EXISTS notices are expected; keep them out of the logs.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool PgConnection::ok() const { return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK; }

SqlError PgConnection::ErrorOf(const PgResult& result, absl::string_view what) const {
  SqlError e;
  e.sqlstate = result.ErrorField(PG_DIAG_SQLSTATE);
  e.message = result.ErrorField(PG_DIAG_MESSAGE_PRIMARY);
  e.copy_line = CopyLineOf(result.ErrorField(PG_DIAG_CONTEXT));
  std::string full = Trimmed(result ? PQresultErrorMessage(result.get()) : "");
  if (full.empty()) full = Trimmed(PQerrorMessage(conn_));
  if (e.message.empty()) e.message = full;
  // A broken connection is transient whatever the last result said.
  e.kind = ok() ? ClassifySqlState(e.sqlstate) : SqlErrorKind::kTransient;
  e.status = StatusForSqlError(
      e.kind, absl::StrCat(what, ": ", full,
                           e.sqlstate.empty() ? "" : absl::StrCat(" [SQLSTATE ", e.sqlstate, "]")));
  return e;
}

absl::StatusOr<PgResult> PgConnection::Exec(absl::string_view sql,
                                            const std::vector<const char*>& params,
                                            SqlError* error) {
  const std::string text(sql);
  PgResult result(PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
                               params.data(), nullptr, nullptr, 0));
  const ExecStatusType st = result.status();
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN) return result;
  SqlError e = ErrorOf(result, StatementName(sql));
  absl::Status status = e.status;
  if (error != nullptr) *error = std::move(e);
  return status;
}

absl::Status PgConnection::Run(absl::string_view sql, const std::vector<const char*>& params,
                               SqlError* error) {
  absl::StatusOr<PgResult> r = Exec(sql, params, error);
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::Status PgConnection::CopyIn(absl::string_view copy_sql, absl::string_view data,
                                  SqlError* error) {
  size_t pos = 0;
  return CopyIn(
      copy_sql,
      [&]() {
        const size_t n = std::min(kCopyChunkBytes, data.size() - pos);
        absl::string_view chunk = data.substr(pos, n);
        pos += n;
        return chunk;
      },
      error);
}

absl::Status PgConnection::CopyIn(absl::string_view copy_sql,
                                  const std::function<absl::string_view()>& next,
                                  SqlError* error) {
  absl::StatusOr<PgResult> start = Exec(copy_sql, {}, error);
  if (!start.ok()) return start.status();
  for (absl::string_view chunk = next(); !chunk.empty(); chunk = next()) {
    if (PQputCopyData(conn_, chunk.data(), static_cast<int>(chunk.size())) != 1) break;
  }
  PQputCopyEnd(conn_, nullptr);
  absl::Status status = absl::OkStatus();
  while (PGresult* raw = PQgetResult(conn_)) {
    PgResult r(raw);
    if (r.status() != PGRES_COMMAND_OK && status.ok()) {
      SqlError e = ErrorOf(r, StatementName(copy_sql));
      status = e.status;
      if (error != nullptr) *error = std::move(e);
    }
    if (!ok()) break;
  }
  if (status.ok() && !ok()) {
    SqlError e = ErrorOf(PgResult(), StatementName(copy_sql));
    status = e.status;
    if (error != nullptr) *error = std::move(e);
  }
  return status;
}

void PgConnection::RollbackQuietly() {
  if (ok()) PQclear(PQexec(conn_, "ROLLBACK"));
}

}  // namespace sluice::worker
