// An owning handle on a libpq result: PQclear runs exactly once, on every path.
#ifndef SLUICE_WORKER_POSTGRES_PG_RESULT_H_
#define SLUICE_WORKER_POSTGRES_PG_RESULT_H_

#include <libpq-fe.h>

#include <memory>
#include <string>

namespace sluice::worker {

class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* result) : result_(result) {}

  PGresult* get() const { return result_.get(); }
  explicit operator bool() const { return result_ != nullptr; }

  ExecStatusType status() const {
    return result_ ? PQresultStatus(result_.get()) : PGRES_FATAL_ERROR;
  }
  int rows() const { return result_ ? PQntuples(result_.get()) : 0; }
  bool IsNull(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  const char* Value(int row, int column) const { return PQgetvalue(result_.get(), row, column); }
  // Rows affected by INSERT/UPDATE/DELETE ("" for other commands).
  std::string AffectedRows() const { return result_ ? PQcmdTuples(result_.get()) : ""; }
  // A diagnostic field (PG_DIAG_SQLSTATE, PG_DIAG_MESSAGE_PRIMARY, ...), "" if absent.
  std::string ErrorField(int field) const {
    const char* v = result_ ? PQresultErrorField(result_.get(), field) : nullptr;
    return v ? v : "";
  }

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> result_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_PG_RESULT_H_
