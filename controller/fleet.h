// The controller's view of the worker fleet: who is connected, what each worker
// should run (derived from the pipelines), and what it last applied or refused.
#ifndef SLUICE_CONTROLLER_FLEET_H_
#define SLUICE_CONTROLLER_FLEET_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/assigner.h"
#include "controller/controller_metrics.h"
#include "controller/state_source.h"
#include "controller/worker_registry.h"
#include "sluice/v1/admin.pb.h"
#include "sluice/v1/control.pb.h"

namespace sluice::controller {

struct FleetConfig {
  // How long a disconnected worker keeps its pipelines before they move to others.
  absl::Duration worker_lease = absl::Seconds(15);
  // Sent in every Assignment.
  absl::Duration stats_interval = absl::Seconds(5);
  // A connected worker that sends nothing (stats come every stats_interval) for
  // this long is taken for gone: its stream is ended and its lease starts. A host
  // that died without closing its TCP connection would otherwise keep its
  // pipelines until the OS gave up on the connection (hours). Three intervals.
  absl::Duration silence_limit = absl::Seconds(15);
  // Sent with the schedule horizon: how long a worker holds a partition whose next
  // item lies beyond the horizon before it dead-letters the item
  // (--schedule-hold-limit, three propagation leads by default).
  absl::Duration schedule_hold_limit = absl::Seconds(90);
  // The propagation lead (--flag-lead), sent with the horizon.
  absl::Duration flag_lead = absl::Seconds(30);
};

// What changed since the pusher last looked (Fleet::TakeChanges).
struct FleetChanges {
  // Workers whose assignment (pipelines, their versions, flags, draining) changed.
  std::set<std::string> workers;
  // The schedule horizon moved: every stream has a new one to send.
  bool horizon_moved = false;
  // Workers that opened a new stream: their older one ends.
  std::set<std::string> reconnected;
  // Notify() was called: every stream checks its token and worker now.
  bool notified = false;
};

// Thread-safe. Every change bumps a generation that the stream pusher and the
// Flags watchers wait on (WaitForChange); the pusher then asks which workers'
// assignments changed (TakeChanges), so a change touching a few workers costs
// little in a fleet of thousands.
class Fleet {
 public:
  Fleet(const Clock& clock, FleetConfig config, ControllerMetrics* metrics);

  // The pipelines and flags of a stored state (replacing the previous ones) unless
  // it is older than the state applied: then nothing changes and it returns false.
  // Versions only move forward, so a slow reload finishing after a newer one
  // cannot make workers and Flags watchers step back.
  bool ApplyState(StateSnapshot snapshot);
  // The revision of the state applied (0 before the first).
  uint64_t applied_revision() const;
  // Tests: the pipelines, or the flags, alone (replacing the previous set).
  void SetPipelines(std::vector<v1::Pipeline> pipelines);
  void SetFlags(std::vector<v1::Flag> flags);
  // Every flag, with the revision of the set (the sum of their versions).
  v1::FlagSnapshot FlagSnapshot() const;
  // The flag schedules of the state applied at `revision` or later are complete up
  // to `known_until` (ScheduleHorizonKeeper computes it after a schedule barrier
  // and the read of `revision`). Ignored, returning false, while the state applied
  // is older than `revision` or when it would move the horizon back. Wakes every
  // stream and watcher to pass it on.
  bool AdvanceScheduleHorizon(absl::Time known_until, uint64_t revision);
  // The horizon for the flags `assignment` carries, with the versions it holds
  // for; empty before the first horizon.
  std::optional<v1::ScheduleHorizon> ScheduleHorizonFor(const v1::Assignment& assignment) const;
  // The horizon (InfinitePast before the first).
  absl::Time schedule_known_until() const;
  // Names of the pipelines whose rollout uses `flag`.
  std::set<std::string> PipelinesUsingFlag(const std::string& flag) const;

  // A stream opened with `hello` by the token holder `owner`. Returns the stream's
  // id; an older stream of the same worker is superseded (it sees IsCurrent()
  // false and ends), so a worker whose old connection is half-open comes back at
  // once. PERMISSION_DENIED if the id belongs to another owner (its stream is
  // live or its lease has not expired): a worker id cannot be taken over.
  absl::StatusOr<uint64_t> Connect(const v1::Hello& hello, const std::string& owner);
  // The stream ended; the worker keeps its pipelines for the lease.
  void Disconnect(const std::string& worker_id, uint64_t stream_id);
  bool IsCurrent(const std::string& worker_id, uint64_t stream_id) const;
  // How long the worker on stream `stream_id` has sent nothing (no stats, ACK or
  // NACK) when that is longer than silence_limit; nullopt otherwise (or if the
  // stream is not current).
  std::optional<absl::Duration> SilentFor(const std::string& worker_id, uint64_t stream_id) const;

  // The desired assignment of a worker now (without nonce).
  v1::Assignment AssignmentFor(const std::string& worker_id) const;
  // Moves whenever the worker's desired assignment changes (0 for an unknown
  // worker): an assignment computed at this value is current while it stays.
  uint64_t AssignmentSeq(const std::string& worker_id) const;
  // What changed since the last call (the stream pusher's).
  FleetChanges TakeChanges();
  void RecordPush(const std::string& worker_id, const v1::Assignment& assignment);
  // The worker already runs `assignment` (its Hello named that version): nothing is
  // pushed, and its pipelines count as applied.
  void RecordInSync(const std::string& worker_id, const v1::Assignment& assignment);
  void RecordAck(const std::string& worker_id, const v1::Ack& ack);
  void RecordNack(const std::string& worker_id, const v1::Nack& nack);
  // A stats report came from the worker, under one lock (a fleet of 5,000 sends
  // 1,000 a second): it was heard from now; pipelines it was never assigned (at
  // any time since it connected, or within its lease) are removed from `report`,
  // so a worker token cannot forge stats (which feed the ramp guards) for other
  // pipelines; each remaining pipeline's `problem` is kept (the latest wins).
  // Returns how many pipelines were removed.
  int AcceptStats(const std::string& worker_id, v1::StatsReport* report);

  // NOT_FOUND if unknown. Draining persists for the worker id until it reconnects
  // after its lease has expired.
  absl::Status Drain(const std::string& worker_id);

  // Drops workers whose lease expired; returns their ids.
  std::vector<std::string> ExpireLeases();

  // After a controller restart: the workers known before it (WorkerRegistry), as
  // disconnected with a lease starting now. Assignments then stay as they were
  // while the workers reconnect; whoever does not come back within the lease is
  // dropped and its pipelines move. Connected entries are kept; disconnected ones
  // are replaced by the registry's (a replica that leads again: another leader
  // may have drained or forgotten them meanwhile).
  void RestoreWorkers(const std::vector<KnownWorker>& workers);
  // What the registry keeps of a worker; nullopt if unknown.
  std::optional<KnownWorker> Known(const std::string& worker_id) const;

  std::vector<v1::WorkerInfo> ListWorkers() const;
  absl::StatusOr<v1::WorkerInfo> GetWorker(const std::string& worker_id) const;
  // Per worker the pipeline is assigned to: applied version and NACK reason.
  std::vector<v1::PipelineWorkerStatus> PipelineStatus(const std::string& pipeline) const;
  // Build version of a worker ("" if unknown).
  std::string BuildVersion(const std::string& worker_id) const;

  // Flags.Watch streams, for FlagHolders: a watch starts, holds what it was sent
  // (or already had), and ends.
  uint64_t WatchStarted(const std::string& id);
  void WatchHolds(uint64_t watch_id, const v1::FlagSnapshot& snapshot);
  void WatchEnded(uint64_t watch_id);
  // Who holds which version of `flag`: the workers whose assignment uses it (the
  // version they acknowledged) and the watchers (the version they were sent).
  std::vector<v1::FlagHolder> FlagHolders(const std::string& flag) const;

  uint64_t generation() const;
  // Blocks until the generation differs from `seen` or `timeout` passes; returns it.
  uint64_t WaitForChange(uint64_t seen, absl::Duration timeout) const;
  // Wakes every waiter (e.g. when a stream's reader ends, or tokens were replaced).
  void Notify();
  // How long a stream waits for a change before it checks its worker's silence
  // and its token again: a third of the silence limit, within [100 ms, 5 s]. Not
  // every second: 1,000 idle streams waking each second cost a fifth of a core.
  absl::Duration stream_recheck_interval() const;
  // Sets the workers-connected and pushes-pending gauges, if anything changed
  // since the last call. Called once a second: computing them walks every worker,
  // too much for each push and answer of a 1,000-worker fleet.
  void PublishGauges();

 private:
  struct Worker {
    v1::Hello hello;
    // The token name that opened the current (or last) stream.
    std::string owner;
    uint64_t stream_id = 0;
    bool connected = false;
    bool draining = false;
    absl::Time last_seen;
    absl::Time disconnected_at;
    std::string applied_config_version;
    std::string pending_config_version;
    std::string pending_nonce;
    absl::Time pending_since;
    std::string last_nack;
    // Pipeline versions in the last pushed and the last acknowledged assignment.
    std::map<std::string, uint64_t> pushed_versions;
    std::map<std::string, uint64_t> applied_versions;
    // The same for the flags an assignment carries. A NACK keeps the applied
    // ones as they were (the refused part may still run an older flag).
    std::map<std::string, uint64_t> pushed_flag_versions;
    std::map<std::string, uint64_t> applied_flag_versions;
    // Pipeline → error of the last NACK that named it.
    std::map<std::string, std::string> pipeline_errors;
    // Every pipeline assigned to it since its entry was made (it may report them).
    std::set<std::string> assigned_during_lease;
    // From the latest stats: why a pipeline does not ingest normally there.
    std::map<std::string, std::string> pipeline_problems;
    // Per pipeline: the consumer timeout (ms) of its latest stats.
    std::map<std::string, double> pipeline_timeouts;
    // The version of its desired assignment, and how often it changed.
    std::string desired_version;
    uint64_t assignment_seq = 0;
  };

  // Picks the workers of every pipeline anew (pipelines, flags or candidates
  // changed), and marks the workers whose assignment changed.
  void RecomputeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A worker joined the candidates: only the pipelines it wins change.
  void AddCandidateLocked(const std::string& worker_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Recomputes the desired version of `worker_id` and marks it changed if it moved.
  void RefreshDesiredLocked(const std::string& worker_id, Worker& w)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The pipelines assigned to `worker_id` and the flags their rollouts use (by name).
  void AssignedLocked(const std::string& worker_id, std::vector<const v1::Pipeline*>* pipelines,
                      std::vector<const v1::Flag*>* flags) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WorkerCandidate CandidateLocked(const std::string& worker_id, const Worker& w) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::WorkerInfo InfoLocked(const Worker& w) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock& clock_;
  const FleetConfig config_;
  ControllerMetrics* metrics_;
  mutable absl::Mutex mu_;
  std::map<std::string, v1::Pipeline> pipelines_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::Flag> flags_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Worker> workers_ ABSL_GUARDED_BY(mu_);
  // Pipeline → its workers, and worker id → its pipelines (by name), which
  // follows from them.
  PipelinePicks picks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>> assignments_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 1;
  // Since the last TakeChanges().
  FleetChanges changes_ ABSL_GUARDED_BY(mu_);
  mutable absl::CondVar changed_;
  // Set when a gauge may have changed; PublishGauges() recomputes them.
  bool gauges_stale_ ABSL_GUARDED_BY(mu_) = true;
  uint64_t applied_revision_ ABSL_GUARDED_BY(mu_) = 0;
  // The schedule horizon and the flag versions it was computed for.
  absl::Time known_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::map<std::string, uint64_t> horizon_flag_versions_ ABSL_GUARDED_BY(mu_);
  struct Watcher {
    std::string id;
    std::map<std::string, uint64_t> flag_versions;
  };
  std::map<uint64_t, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watch_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_stream_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_FLEET_H_
