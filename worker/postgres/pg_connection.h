// One libpq connection with the worker's safety settings, SQLSTATE-aware errors
// and COPY. Nothing from libpq leaves worker/postgres/.
#ifndef SLUICE_WORKER_POSTGRES_PG_CONNECTION_H_
#define SLUICE_WORKER_POSTGRES_PG_CONNECTION_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "worker/postgres/pg_result.h"
#include "worker/postgres/sql_state.h"
#include "worker/postgres_options.h"

namespace sluice::worker {

// The error of a failed statement, with what it means for the batch.
struct SqlError {
  SqlErrorKind kind = SqlErrorKind::kOther;
  std::string sqlstate;
  // PostgreSQL's primary message ("invalid input syntax for type json").
  std::string message;
  // What failed and why, for logs and statuses ("COPY: ... [SQLSTATE 22P02]").
  absl::Status status;
  // The row of a COPY the error names ("COPY t, line N" in its context; in binary
  // COPY the Nth row sent, from 1); 0 when it names none (a deferred check, an
  // error after the last row).
  int64_t copy_line = 0;
};

// Not thread-safe.
class PgConnection {
 public:
  // Connects with TCP keepalives, tcp_user_timeout and the session timeouts of
  // `options`, so a dead server or a stuck lock surfaces as an error instead of a
  // hang. UNAVAILABLE when PostgreSQL cannot be reached.
  static absl::StatusOr<std::unique_ptr<PgConnection>> Connect(const PostgresOptions& options);
  ~PgConnection();

  // False once the connection broke; the owner reconnects.
  bool ok() const;

  // Runs one statement with text parameters (nullptr is SQL NULL). On failure the
  // status carries the code of its SqlErrorKind; `error`, if given, gets details.
  absl::StatusOr<PgResult> Exec(absl::string_view sql,
                                const std::vector<const char*>& params = {},
                                SqlError* error = nullptr);
  absl::Status Run(absl::string_view sql, const std::vector<const char*>& params = {},
                   SqlError* error = nullptr);

  // COPY ... FROM STDIN of `data` (already in the COPY's format).
  absl::Status CopyIn(absl::string_view copy_sql, absl::string_view data,
                      SqlError* error = nullptr);
  // COPY ... FROM STDIN of the chunks `next` returns until an empty one, each sent
  // as it comes: the server parses one while the caller encodes the next, and no
  // buffer holds the whole batch.
  absl::Status CopyIn(absl::string_view copy_sql,
                      const std::function<absl::string_view()>& next, SqlError* error = nullptr);

  // ROLLBACK if the connection still works; never fails.
  void RollbackQuietly();

 private:
  explicit PgConnection(struct pg_conn* conn) : conn_(conn) {}
  SqlError ErrorOf(const PgResult& result, absl::string_view what) const;

  struct pg_conn* conn_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_PG_CONNECTION_H_
