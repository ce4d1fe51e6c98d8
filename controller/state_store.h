// The controller's durable state in PostgreSQL: pipelines with their version
// history, the audit log, and (read/reset only) the workers' stored offsets.
#ifndef SLUICE_CONTROLLER_STATE_STORE_H_
#define SLUICE_CONTROLLER_STATE_STORE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/dead_letter_counts.h"
#include "controller/state_source.h"
#include "controller/stats_rollup_store.h"
#include "controller/worker_registry.h"
#include "sluice/v1/admin.pb.h"

namespace sluice::controller {

inline constexpr int kPoolSize = 4;
inline constexpr absl::Duration kStatementTimeout = absl::Seconds(10);
inline constexpr absl::Duration kLockTimeout = absl::Seconds(5);
// A controller that stops mid-transaction (SIGSTOP, a paused VM) would otherwise
// keep its locks, the schedule lock included, until its connection died: the
// server ends such a session after this.
inline constexpr absl::Duration kIdleInTransactionTimeout = absl::Seconds(5);
// The schedule lock (a PostgreSQL advisory lock, transaction-scoped): flag writes
// hold it shared until they commit, ScheduleBarrier() takes it exclusively. The
// key is "sluiceS" in ASCII, unlikely to collide with an application's own keys.
inline constexpr int64_t kScheduleLockKey = 0x736c7569636553;

struct StoreOptions {
  // A libpq connection string ("host=... port=... dbname=... user=...").
  std::string connection_string;
  // Checks a flag write's schedule deadline (UpdateFlag); the real clock if null.
  const Clock* clock = nullptr;
};

// Thread-safe: a pool of kPoolSize connections, so one slow call does not stall
// the others (admin calls, ramp ticks, state polls); every statement is bounded by
// kStatementTimeout and every lock wait by kLockTimeout (then UNAVAILABLE). Every
// write runs in one transaction with its audit entry. Errors: UNAVAILABLE when
// PostgreSQL cannot be reached, NOT_FOUND, ALREADY_EXISTS, ABORTED (stale
// expected_version), FAILED_PRECONDITION (wrong state).
class StateStore : public StateSource, public WorkerRegistry, public StatsRollupStore {
 public:
  // Connects and creates the schema sluice_controller (and sluice_offsets) if missing.
  static absl::StatusOr<std::unique_ptr<StateStore>> Open(const StoreOptions& options);
  ~StateStore();

  absl::StatusOr<StateSnapshot> LoadState() override;
  absl::StatusOr<uint64_t> Revision() override;
  // Waits for the flag writes in progress (each holds the schedule lock, shared,
  // from before its deadline until it commits) by taking it exclusively, and
  // returns the clock's time once it has it: every flag write after this barrier
  // computed its schedule at most its deadline allowance before it.
  absl::StatusOr<absl::Time> ScheduleBarrier() override;

  absl::Status SaveWorkers(const std::vector<KnownWorker>& workers) override;
  absl::Status ForgetWorkers(const std::vector<std::string>& worker_ids) override;
  absl::StatusOr<std::vector<KnownWorker>> LoadWorkers() override;

  absl::Status SaveStatsRollups(const std::vector<MinuteRollup>& rollups,
                                absl::Time forget_before) override;
  absl::StatusOr<std::vector<MinuteRollup>> LoadStatsRollups(absl::Time since) override;

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
  // The schedule was computed from the clock at some time T (new changes take
  // effect at T + lead or later); `schedule_deadline` is T + the write allowance.
  // The write takes the schedule lock (shared) and is refused with ABORTED if
  // it got it after the deadline: a ScheduleBarrier() may have passed since T, and
  // the workers may already know the schedule beyond T + lead.
  absl::StatusOr<v1::Flag> UpdateFlag(const v1::Flag& flag, uint64_t expected_version,
                                      const std::string& action, const std::string& actor,
                                      absl::Time schedule_deadline);

  absl::StatusOr<std::vector<v1::PartitionOffset>> GetOffsets(const std::string& consumer_group);
  // Only while the pipeline is paused (checked in the same transaction).
  // `next_offset`: an offset, -2 (earliest) or -1 (latest), stored as such; empty
  // deletes the rows (the pipeline's auto.offset.reset applies).
  absl::Status ResetOffsets(const std::string& pipeline, const std::string& topic,
                            int32_t partition, std::optional<int64_t> next_offset,
                            const std::string& actor);

  // sluice_dead_letters of `consumer_group` (the workers write them in the same
  // database): those `filter` selects, newest first, at most `limit`, and the
  // group's counts by state. Keys and payloads are left out.
  absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(const std::string& consumer_group,
                                                              const v1::DeadLetterFilter& filter,
                                                              int limit);
  // Every pipeline's dead letters by state (zeros for a pipeline with none).
  absl::StatusOr<std::map<std::string, DeadLetterCounts>> CountDeadLetters();
  // An audit entry written by itself (for an action committed elsewhere).
  absl::Status RecordAudit(const std::string& actor, const std::string& action,
                           const std::string& target, const std::string& before,
                           const std::string& after);
  // One, whole; NOT_FOUND when the group has no dead letter `id`.
  absl::StatusOr<v1::DeadLetter> GetDeadLetter(const std::string& consumer_group, int64_t id);
  // Marks the pending dead letters `filter` selects as discarded by `actor`, with
  // an audit entry on `pipeline` naming the filter and the count; returns the count.
  absl::StatusOr<int64_t> DiscardDeadLetters(const std::string& pipeline,
                                             const std::string& consumer_group,
                                             const v1::DeadLetterFilter& filter,
                                             const std::string& actor);

 private:
  explicit StateStore(StoreOptions options);
  // Runs `body` in a transaction on a pooled connection, reconnecting once;
  // converts libpqxx exceptions into statuses.
  template <typename Body>
  absl::Status Transact(Body body);
  // The same in a libpqxx transaction type `Tx` (pqxx::nontransaction: each
  // statement commits by itself).
  template <typename Tx, typename Body>
  absl::Status RunIn(Body body);

  // One libpqxx connection (kept out of this header).
  struct Db;
  // Waits for an idle connection or a free slot (then returns null: connect).
  std::unique_ptr<Db> Acquire() ABSL_LOCKS_EXCLUDED(mu_);
  // Returns a connection to the pool; null frees its slot.
  void Release(std::unique_ptr<Db> db) ABSL_LOCKS_EXCLUDED(mu_);

  const StoreOptions options_;
  const Clock& clock_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Db>> idle_ ABSL_GUARDED_BY(mu_);
  // Connections open or being opened, idle or in use (at most kPoolSize).
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// The JSON form of a config used in the audit log and history.
std::string ConfigToJson(const v1::PipelineConfig& config);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_STATE_STORE_H_
