#include "worker/postgres/sql_state.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace sluice::worker {

SqlErrorKind ClassifySqlState(absl::string_view s) {
  if (s.size() != 5) return SqlErrorKind::kTransient;  // no SQLSTATE: the connection broke
  const absl::string_view cls = s.substr(0, 2);
  // Transient.
  if (cls == "08" ||                    // connection exception
      cls == "53" ||                    // insufficient resources (disk, memory, connections)
      cls == "57" ||                    // shutdown, statement timeout (57014)
      (cls == "40" && s != "40002") ||  // serialization failure, deadlock
      s == "55P03" ||                   // lock_not_available (lock_timeout)
      s == "55006" ||                   // object_in_use
      s == "25006" ||                   // read_only_sql_transaction (a failover, a standby)
      cls == "58" ||                    // system error (I/O)
      s == "72000") {                   // snapshot_too_old
    return SqlErrorKind::kTransient;
  }
  // The target.
  if (cls == "42" ||  // undefined table/column, datatype mismatch, insufficient privilege
      cls == "3D" || cls == "3F" ||  // invalid catalog / schema name
      cls == "28" ||                 // invalid authorization
      cls == "0L" || cls == "0P" ||  // invalid grantor / role
      cls == "55") {                 // object not in prerequisite state
    return SqlErrorKind::kTarget;
  }
  // A row's data.
  if (cls == "22" ||    // data exception
      cls == "23" ||    // integrity constraint violation
      cls == "54" ||    // program limit exceeded (index row too large, nesting too deep)
      cls == "P0" ||    // PL/pgSQL: RAISE EXCEPTION in a trigger
      cls == "2F" || cls == "38" || cls == "39" ||  // routine exceptions (triggers)
      cls == "27" ||    // triggered data change violation
      cls == "44" ||    // WITH CHECK OPTION violation
      s == "40002") {   // transaction integrity constraint violation (deferred)
    return SqlErrorKind::kRow;
  }
  return SqlErrorKind::kOther;
}

absl::Status StatusForSqlError(SqlErrorKind kind, absl::string_view message) {
  switch (kind) {
    case SqlErrorKind::kTransient:
      return absl::UnavailableError(message);
    case SqlErrorKind::kTarget:
      return absl::FailedPreconditionError(message);
    case SqlErrorKind::kRow:
      return absl::InvalidArgumentError(message);
    case SqlErrorKind::kOther:
      break;
  }
  return absl::InternalError(message);
}

int64_t CopyLineOf(absl::string_view context) {
  for (absl::string_view line : absl::StrSplit(context, '\n')) {
    if (!absl::StartsWith(line, "COPY ")) continue;
    const size_t at = line.find(", line ");
    if (at == absl::string_view::npos) continue;
    absl::string_view digits = line.substr(at + 7);
    digits = digits.substr(0, digits.find_first_not_of("0123456789"));
    int64_t n = 0;
    if (absl::SimpleAtoi(digits, &n) && n > 0) return n;
  }
  return 0;
}

}  // namespace sluice::worker
