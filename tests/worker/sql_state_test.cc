// The SQLSTATE rule: what each class of PostgreSQL error means for a batch.
#include "worker/postgres/sql_state.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

TEST(SqlStateTest, ErrorsThatGoAwayAreTransient) {
  for (const char* s : {"08006", "08001", "53100", "53200", "57P01", "57014", "40001", "40P01",
                        "55P03", "55006", "25006", "58030", "72000", ""}) {
    EXPECT_EQ(ClassifySqlState(s), SqlErrorKind::kTransient) << s;
  }
}

TEST(SqlStateTest, AnUnusableTargetIsTheTargets) {
  for (const char* s : {"42P01", "42703", "42804", "42501", "3F000", "28P01", "55000"}) {
    EXPECT_EQ(ClassifySqlState(s), SqlErrorKind::kTarget) << s;
  }
}

// Regression (issue 7.7): only classes 22 and 23 were isolated; 54000, P0001 and
// deferred constraints were retried forever.
TEST(SqlStateTest, ARowsDataIsTheRows) {
  for (const char* s : {"22P02", "22021", "22003", "23505", "23514", "23503", "54000", "54001",
                        "P0001", "P0004", "2F005", "38001", "39P01", "27000", "44000", "40002"}) {
    EXPECT_EQ(ClassifySqlState(s), SqlErrorKind::kRow) << s;
  }
}

TEST(SqlStateTest, EverythingElseIsPermanent) {
  for (const char* s : {"XX000", "XX001", "0A000", "F0000", "HV000"}) {
    EXPECT_EQ(ClassifySqlState(s), SqlErrorKind::kOther) << s;
  }
  EXPECT_EQ(StatusForSqlError(SqlErrorKind::kOther, "x").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(StatusForSqlError(SqlErrorKind::kRow, "x").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusForSqlError(SqlErrorKind::kTarget, "x").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusForSqlError(SqlErrorKind::kTransient, "x").code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sluice::worker

namespace sluice::worker {
namespace {

TEST(CopyLineOfTest, TheRowACopyErrorNames) {
  EXPECT_EQ(CopyLineOf("COPY raw_items, line 5234, column payload: \"{...}\""), 5234);
  EXPECT_EQ(CopyLineOf("COPY raw_items, line 7"), 7);
  // A trigger's function comes first, the COPY after it.
  EXPECT_EQ(CopyLineOf("PL/pgSQL function refuse() line 3 at RAISE\nCOPY t, line 12"), 12);
  // A value quoted in the context does not count.
  EXPECT_EQ(CopyLineOf("COPY t, line 3, column c: \"a, line 9\""), 3);
  EXPECT_EQ(CopyLineOf("SQL statement \"SELECT 1\""), 0);
  EXPECT_EQ(CopyLineOf(""), 0);
  EXPECT_EQ(CopyLineOf("COPY t, line 0"), 0);
}

}  // namespace
}  // namespace sluice::worker
