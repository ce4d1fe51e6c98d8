// The controller's durable state in PostgreSQL: pipelines with their version
// history, the audit log, and (read/reset only) the workers' stored offsets.
#ifndef SLUICE_CONTROLLER_STATE_STORE_H_
#define SLUICE_CONTROLLER_STATE_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "sluice/v1/admin.pb.h"

namespace sluice::controller {

struct StoreOptions {
  // A libpq connection string ("host=... port=... dbname=... user=...").
  std::string connection_string;
};

// Thread-safe (one connection behind a mutex: admin writes are rare). Every write
// runs in one transaction with its audit entry. Errors: UNAVAILABLE when
// PostgreSQL cannot be reached, NOT_FOUND, ALREADY_EXISTS, ABORTED (stale
// expected_version), FAILED_PRECONDITION (wrong state).
class StateStore {
 public:
  // Connects and creates the schema sluice_controller (and sluice_offsets) if missing.
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const StoreOptions& options);
  ~StateStore();

  absl::StatusOr<std::vector<v1::Pipeline>> ListPipelines();
  absl::StatusOr<v1::Pipeline> GetPipeline(const std::string& name);
  absl::StatusOr<v1::Pipeline> CreatePipeline(const v1::PipelineConfig& config,
                                              const std::string& actor);
  absl::StatusOr<v1::Pipeline> UpdatePipeline(const v1::PipelineConfig& config,
                                              uint64_t expected_version,
                                              const std::string& actor);
  absl::Status DeletePipeline(const std::string& name, uint64_t expected_version,
                              const std::string& actor);
  absl::StatusOr<v1::Pipeline> SetPaused(const std::string& name, bool paused,
                                         const std::string& actor);

  // Records an admin write that changes no stored object (e.g. a drain).
  absl::Status Audit(const std::string& actor, const std::string& action,
                     const std::string& target, const std::string& old_value,
                     const std::string& new_value);
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(int limit, const std::string& target);

  absl::StatusOr<std::vector<v1::Flag>> ListFlags();
  absl::StatusOr<v1::Flag> GetFlag(const std::string& name);
  absl::StatusOr<v1::Flag> CreateFlag(const v1::Flag& flag, const std::string& actor);
  // Replaces the flag's schedule and ramp if its version is still `expected_version`;
  // `action` names the change in the audit log (flag.set, flag.rollback, flag.ramp...).
  absl::StatusOr<v1::Flag> UpdateFlag(const v1::Flag& flag, uint64_t expected_version,
                                              const std::string& action,
                                              const std::string& actor);

  absl::StatusOr<std::vector<v1::PartitionOffset>> GetOffsets(const std::string& consumer_group);
  // Only while the pipeline is paused (checked in the same transaction).
  // `next_offset`: an offset, -2 (earliest) or -1 (latest), stored as such; empty
  // deletes the rows (the pipeline's auto.offset.reset applies).
  absl::Status ResetOffsets(const std::string& pipeline, const std::string& topic,
                            int32_t partition, std::optional<int64_t> next_offset,
                            const std::string& actor);

 private:
  explicit StateStore(StoreOptions options);
  absl::Status Connect();
  // Runs `body` in a transaction on a live connection, reconnecting once; converts
  // libpqxx exceptions into statuses.
  template <typename Body>
  absl::Status Transact(Body body);

  const StoreOptions options_;
  absl::Mutex mu_;
  // Holds the libpqxx connection (kept out of this header).
  struct Db;
  std::unique_ptr<Db> db_ ABSL_GUARDED_BY(mu_);
};

// The JSON form of a config used in the audit log and history.
std::string ConfigToJson(const v1::PipelineConfig& config);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_STATE_STORE_H_
