// What a PostgreSQL error means for the batch that hit it, by SQLSTATE
// (https://www.postgresql.org/docs/15/errcodes-appendix.html).
#ifndef SLUICE_WORKER_POSTGRES_SQL_STATE_H_
#define SLUICE_WORKER_POSTGRES_SQL_STATE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sluice::worker {

enum class SqlErrorKind {
  // The same statement may succeed if tried again: connection loss, serialization
  // failure, deadlock, lock or statement timeout, shutdown, out of resources.
  kTransient,
  // The target is unusable (missing table or column, wrong type, no permission):
  // nothing in the batch can land until an operator fixes it.
  kTarget,
  // Caused by the data of a row (invalid value, constraint, index row too large,
  // an exception raised by a trigger): that row goes to the dead letters.
  kRow,
  // Anything else (internal errors, unsupported features): not the data's fault,
  // and retrying will not help.
  kOther,
};

SqlErrorKind ClassifySqlState(absl::string_view sqlstate);

// The row number N of a "COPY <table>, line N[, column ...]" line of an error's
// context (PG_DIAG_CONTEXT, one line per enclosing context: a trigger's function
// comes first); 0 when there is none.
int64_t CopyLineOf(absl::string_view context);

// The canonical code for each kind: UNAVAILABLE, FAILED_PRECONDITION,
// INVALID_ARGUMENT, INTERNAL.
absl::Status StatusForSqlError(SqlErrorKind kind, absl::string_view message);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_SQL_STATE_H_
