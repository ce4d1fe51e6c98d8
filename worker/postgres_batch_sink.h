// BatchSink on PostgreSQL: text COPY of rows and dead letters plus fenced offset
// updates in one transaction, on a raw libpq connection. Raw libpq because
// ../shared/BUILDING.md measured text COPY (~590k rows/s) above libpqxx's stream_to
// (~550k) on this machine kind, and because it gives the SQLSTATE of each failure
// without exceptions; Sluice has not re-measured stream_to itself.
#ifndef SLUICE_WORKER_POSTGRES_BATCH_SINK_H_
#define SLUICE_WORKER_POSTGRES_BATCH_SINK_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/v1/pipeline.pb.h"
#include "worker/batch_sink.h"
#include "worker/offset_fence.h"
#include "worker/payload_validator.h"
#include "worker/postgres_options.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace sluice::worker {

struct PostgresSinkConfig {
  PostgresOptions connection;
  std::string consumer_group;
  // Target table, optionally schema-qualified.
  std::string table = "raw_items";
  ::sluice::v1::PayloadFormat payload_format = ::sluice::v1::PAYLOAD_FORMAT_JSON;
  // Create the target table when missing (the bookkeeping tables are always created).
  bool create_table = false;
  // Under a rollout, where legacy-path items go: a table with the target's columns,
  // written in the same transaction, or (legacy_skip) nowhere.
  std::string legacy_table;
  bool legacy_skip = false;
};

class PostgresBatchSink : public BatchSink {
 public:
  // Connects, creates Sluice's tables and checks (or creates) the target table.
  // UNAVAILABLE if PostgreSQL cannot be reached; FAILED_PRECONDITION with the
  // exact problem if the target table is missing or has the wrong columns.
  static absl::StatusOr<std::unique_ptr<PostgresBatchSink>> Create(PostgresSinkConfig config);
  ~PostgresBatchSink() override;

  absl::StatusOr<OffsetMap> ClaimPartitions(
      const std::vector<TopicPartition>& partitions) override;
  void ReleasePartitions(const std::vector<TopicPartition>& partitions) override;
  bool IsClaimed(const TopicPartition& partition) const override {
    return fence_.IsClaimed(partition);
  }
  std::optional<int64_t> FencePosition(const TopicPartition& partition) const override;
  absl::StatusOr<WriteResult> Write(const Batch& batch) override;
  std::vector<TopicPartition> LastFencedPartitions() const override { return last_fenced_; }

  // The SQL that creates the target table for `format` (used by --create-table and docs).
  static std::string CreateTableSql(const std::string& quoted_table,
                                    ::sluice::v1::PayloadFormat format);

 private:
  struct Rejected {
    const Message* message;
    std::string error;
    std::string sqlstate;
  };

  explicit PostgresBatchSink(PostgresSinkConfig config);

  absl::Status Connect();
  absl::Status EnsureConnected();
  void Disconnect();
  absl::Status PrepareTables();
  absl::Status CheckTable(const std::string& table, const std::string& quoted);

  // Runs one statement; converts failures into canonical codes (see ErrorFromResult).
  absl::StatusOr<PGresult*> Exec(const std::string& sql, const std::vector<const char*>& params = {});
  absl::Status ExecCommand(const std::string& sql, const std::vector<const char*>& params = {});
  absl::Status ErrorFromResult(PGresult* result, const std::string& what);

  // One attempt at the whole transaction. `row_by_row` isolates each row in a
  // savepoint so rows PostgreSQL refuses become dead letters.
  absl::StatusOr<WriteResult> WriteOnce(const Batch& batch,
                                        const std::vector<OffsetUpdate>& updates,
                                        bool row_by_row);
  absl::Status UpdateOffsets(const std::vector<OffsetUpdate>& updates);
  absl::Status CopyRows(const std::vector<const Message*>& rows, const std::string& quoted_table);
  absl::Status InsertRowsOneByOne(const std::vector<const Message*>& rows,
                                  const std::string& quoted_table, std::vector<Rejected>* rejected);
  absl::Status CopyDeadLetters(const std::vector<Rejected>& rejected);
  absl::Status CopyBuffer(const std::string& copy_sql, const std::string& data);
  // After a commit whose outcome is unknown: reads the stored offsets to learn
  // whether it landed. Returns true if it did.
  absl::StatusOr<bool> ResolveInDoubtCommit(const std::vector<OffsetUpdate>& updates);

  const PostgresSinkConfig config_;
  std::string quoted_table_;
  std::string quoted_legacy_table_;  // empty without a legacy table
  PGconn* conn_ = nullptr;
  OffsetFence fence_;
  PayloadValidator validator_;
  std::vector<TopicPartition> last_fenced_;
  // Set when COMMIT was sent but its answer was lost.
  bool commit_in_doubt_ = false;
  WriteResult in_doubt_result_;
};

// "a.b" → "\"a\".\"b\"" (each part quoted as an identifier).
std::string QuoteQualifiedName(const std::string& name);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_BATCH_SINK_H_
