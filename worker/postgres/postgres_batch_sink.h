// BatchSink on PostgreSQL: one transaction per batch — offsets compare-and-set,
// text COPY of the rows, dead letters — on a raw libpq connection. Raw libpq
// because ../shared/BUILDING.md measured text COPY (~590k rows/s) above libpqxx's
// stream_to (~550k) on this machine kind, and because it gives the SQLSTATE of
// each failure without exceptions.
#ifndef SLUICE_WORKER_POSTGRES_POSTGRES_BATCH_SINK_H_
#define SLUICE_WORKER_POSTGRES_POSTGRES_BATCH_SINK_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice/v1/pipeline.pb.h"
#include "worker/batch_accounting.h"
#include "worker/batch_sink.h"
#include "worker/payload_validator.h"
#include "worker/postgres/mapped_row_encoder.h"
#include "worker/postgres_options.h"

namespace sluice::worker {

class PgConnection;
struct SqlError;

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
  // The target table's columns and their sources (PipelineConfig.columns); empty:
  // Sluice's own shape, with the payload typed by payload_format.
  google::protobuf::RepeatedPtrField<::sluice::v1::ColumnMapping> columns;
  // UPSERT (with a column mapping): one row per key_columns value, tombstones
  // deleting it when delete_on_tombstone (pipeline.proto, WriteMode).
  ::sluice::v1::WriteMode write_mode = ::sluice::v1::WRITE_MODE_INSERT;
  std::vector<std::string> key_columns;
  bool delete_on_tombstone = false;
  // BadRowTolerance MODE_NONE: a batch with a row that would be a dead letter is
  // not written; Write returns ABORTED naming the row (the loop pauses).
  bool refuse_bad_rows = false;
};

// The sink's configuration for `pipeline`, reaching PostgreSQL by `connection`.
PostgresSinkConfig SinkConfigFor(const ::sluice::v1::PipelineConfig& pipeline,
                                 const PostgresOptions& connection);

class PostgresBatchSink : public BatchSink {
 public:
  // Connects, creates Sluice's tables and checks (or creates) the target table.
  // UNAVAILABLE if PostgreSQL cannot be reached; FAILED_PRECONDITION with the
  // exact problem if the target table is missing or does not fit the columns: a
  // mapped column it lacks, a type the column's values cannot be written to, a
  // NOT NULL column without a default that nothing fills. INVALID_ARGUMENT for a
  // column mapping that cannot be compiled.
  static absl::StatusOr<std::unique_ptr<PostgresBatchSink>> Create(PostgresSinkConfig config);
  ~PostgresBatchSink() override;

  absl::StatusOr<OffsetMap> ReadOffsets(const std::vector<TopicPartition>& partitions) override;
  // Rows PostgreSQL refuses for their data (SqlErrorKind::kRow) become dead
  // letters: the batch is written again inside savepoints, with deferrable
  // constraints checked per statement; a refused COPY names its row ("COPY t, line
  // N"), which is set aside and the rest sent again (one COPY per refused row:
  // one bad row in 10,000 costs 2 COPYs after the first attempt), and where no row
  // is named (a deferred check) or after 8 named rows the rest goes in halves.
  absl::StatusOr<WriteResult> Write(const Batch& batch,
                                    const std::vector<OffsetUpdate>& updates) override;
  absl::StatusOr<std::vector<TopicPartition>> MoveOffsets(
      const std::vector<OffsetUpdate>& updates) override;

  // Writes dead letters again (sluicectl deadletters replay): `batch` holds them
  // rebuilt as messages; they are written like any batch (refused ones stay
  // dead letters, pending, with the new reason) without touching offsets, and the
  // ones that land are marked replayed by `actor` in the same transaction, only
  // if they are still pending (ABORTED, nothing written, when another replay got
  // there first). FAILED_PRECONDITION in UPSERT mode without a column mapped from
  // the offset: a replayed value could then overwrite a newer one of its key.
  absl::StatusOr<WriteResult> Replay(const Batch& batch, const std::string& actor);

  // What a worker's pre-flight would say of the live target table (and legacy
  // table) of `config`, without creating anything: OK when they fit, or are
  // missing and config.create_table would create them; FAILED_PRECONDITION with
  // the reason otherwise; UNAVAILABLE when PostgreSQL cannot be reached.
  static absl::Status CheckTarget(PostgresSinkConfig config);

  // The SQL that creates the target table for `format` (used by --create-table and docs).
  static std::string CreateTableSql(const std::string& quoted_table,
                                    ::sluice::v1::PayloadFormat format);
  // The SQL that creates a table with the mapped columns, typed as mapped, all
  // nullable, and no key (--create-table with a column mapping).
  static std::string CreateMappedTableSql(
      const std::string& quoted_table,
      const google::protobuf::RepeatedPtrField<::sluice::v1::ColumnMapping>& columns);

  // The rows of one path and, with a column mapping, their encoded tuples.
  struct Rows {
    std::vector<const Message*> messages;
    std::vector<absl::string_view> tuples;  // empty without a column mapping
  };
  // A row error and where it stopped (SqlError without libpq's header).
  struct RowFailure {
    std::string table;
    std::string message;
    std::string sqlstate;
    int64_t copy_line = 0;
  };

 private:
  explicit PostgresBatchSink(PostgresSinkConfig config);

  absl::Status EnsureConnected();
  absl::Status PrepareTables();
  absl::Status CheckTable(const std::string& table, const std::string& quoted);
  // UPSERT: checks the table's unique index on the key columns and builds its
  // stage and statements (`mapped_types`: each mapped column's live type).
  absl::Status PrepareUpsert(const std::string& table, const std::string& quoted,
                             const std::map<std::string, std::string>& mapped_types);

  // One attempt at the whole transaction. `isolate_rows`: bisect COPY failures
  // down to the refused rows (which join `rejected`).
  absl::StatusOr<WriteResult> WriteOnce(const Batch& batch,
                                        const std::vector<OffsetUpdate>& updates, const Rows& rows,
                                        const Rows& legacy_rows, std::vector<RejectedRow> rejected,
                                        bool isolate_rows);
  // Applies the compare-and-sets; partitions whose row did not hold the expected
  // offset are added to `fenced`.
  absl::Status UpdateOffsets(const std::vector<OffsetUpdate>& updates,
                             std::vector<TopicPartition>* fenced);
  // Writes rows[0, n) to `quoted_table`: COPYs them (CopyRows), or in UPSERT mode
  // COPYs them into the table's stage and merges that into the table.
  absl::Status PutRows(const Message* const* rows, const absl::string_view* tuples, size_t n,
                       const std::string& quoted_table, SqlError* error);
  // COPYs rows[0, n): each message's own row, or with a column mapping the tuple
  // encoded for it (tuples[i], encoded before the transaction); in UPSERT mode into
  // the stage of `quoted_table`, each tuple with its place in the batch and
  // whether it deletes.
  absl::Status CopyRows(const Message* const* rows, const absl::string_view* tuples, size_t n,
                        const std::string& quoted_table, SqlError* error);
  // Writes rows[0, n) in savepoints, isolating the ones PostgreSQL refuses into
  // `rejected`. `failed`: how the same rows were refused before (then they are
  // not sent again to learn it).
  absl::Status CopyIsolatingRows(const Message* const* rows, const absl::string_view* tuples,
                                 size_t n, const std::string& quoted_table,
                                 std::vector<RejectedRow>* rejected, const RowFailure* failed);
  // Replay: marks the landed messages of `batch` (all but `rejected`) replayed, or
  // ABORTED when some were no longer pending.
  absl::Status MarkReplayed(const Batch& batch, const std::vector<RejectedRow>& rejected);
  // Idempotent: a message dead-lettered before (then re-read after an offsets
  // reset) gets its reason refreshed instead of failing the batch.
  absl::Status WriteDeadLetters(const std::vector<RejectedRow>& rejected);
  // After a COMMIT whose answer was lost: asks the server what became of that
  // transaction id. True: committed; false: it did not; UNAVAILABLE: still unknown.
  absl::StatusOr<bool> ResolveInDoubtCommit();

  const PostgresSinkConfig config_;
  const std::string quoted_table_;
  const std::string quoted_legacy_table_;  // empty without a legacy table
  std::unique_ptr<PgConnection> conn_;
  PayloadValidator validator_;
  // Sluice's own shape, checked against the table when there is no column mapping.
  const google::protobuf::RepeatedPtrField<::sluice::v1::ColumnMapping> standard_columns_;
  // With a column mapping: the encoder, and the tuples of the batch being written.
  std::unique_ptr<MappedRowEncoder> mapper_;
  std::string encoded_;
  // Set while Replay writes: who replays.
  std::optional<std::string> replay_actor_;
  // The table and row error of the current Write's first attempt, if a row error
  // failed it.
  std::optional<RowFailure> first_failure_;
  // COPYs spent isolating refused rows in the current Write.
  int64_t isolation_copies_ = 0;
  // UPSERT: per quoted table, its session's stage and the statements that apply
  // it (built by CheckTable from the live column types).
  struct Upsert {
    std::string stage;         // quoted name of the temporary stage table
    std::string create_stage;  // CREATE TEMP TABLE IF NOT EXISTS ...
    std::string merge;         // INSERT ... ON CONFLICT from the stage, in key order
    std::string lock_keys;     // with deletes: locks the batch keys' rows in key order
    std::string remove;        // DELETE of the tombstoned keys' rows
    // A mapped column holds the message's offset: a row replaces (or a tombstone
    // deletes) its key's row only when it is newer.
    bool offset_guarded = false;
  };
  std::map<std::string, Upsert> upserts_;
  // The messages of the batch being written (a row's place in it orders a key's
  // versions).
  const Message* batch_begin_ = nullptr;
  // Reused for every COPY chunk (CopyRows).
  std::string copy_chunk_;
  // Set when COMMIT was sent but its answer was lost.
  struct InDoubt {
    std::string txid;
    std::vector<OffsetUpdate> updates;
    WriteResult result;
  };
  std::optional<InDoubt> in_doubt_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_POSTGRES_BATCH_SINK_H_
