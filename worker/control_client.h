// The worker's end of WorkerControl.Connect, in layers: transport (connect,
// reconnect with jittered backoff), protocol (Hello, versions, ACK/NACK, stats
// sequence numbers), and the AssignmentHandler the rest of the worker implements.
#ifndef SLUICE_WORKER_CONTROL_CLIENT_H_
#define SLUICE_WORKER_CONTROL_CLIENT_H_

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/controller_channel.h"
#include "sluice/v1/control.pb.h"
#include "worker/assignment_handler.h"
#include "worker/stats_outbox.h"

namespace sluice::worker {

struct ControlClientConfig {
  // Address (or the replicas' addresses, comma-separated: the worker follows the
  // leader among them), token and TLS files.
  ControllerConnection controller;
  // worker_id, build_version, host, pid; last_applied_config_version is filled in.
  v1::Hello hello;
  absl::Duration backoff_initial = absl::Milliseconds(200);
  absl::Duration backoff_max = absl::Seconds(10);
  // Identifies this process in stats reports; 0: a random one.
  uint64_t incarnation = 0;
  // Until an Assignment says otherwise.
  absl::Duration default_stats_interval = absl::Seconds(5);
  // How often a NACKed assignment is tried again (the table may exist by then, or
  // PostgreSQL be back); it is ACKed once it applies.
  absl::Duration nack_retry_interval = absl::Seconds(10);
};

class ControlClient {
 public:
  ControlClient(ControlClientConfig config, AssignmentHandler* handler);

  // Keeps a stream open until `stop`; while the controller is unreachable the
  // worker goes on with what it runs. Blocks. Returns OK after `stop`; or, at once,
  // the status of a stream the controller refused for good (UNIMPLEMENTED: the
  // address is not a Sluice controller; INVALID_ARGUMENT, FAILED_PRECONDITION,
  // PERMISSION_DENIED, UNAUTHENTICATED: it will not take this worker), which no
  // retry would change.
  absl::Status Run(const std::atomic<bool>& stop);

  bool connected() const { return connected_.load(); }
  std::string last_applied_config_version() const;
  // Stats taken from the pipelines and not yet in a report: one entry per
  // pipeline version however long the controller has been away.
  std::vector<v1::PipelineStats> pending_stats() const;

 private:
  absl::Duration stats_interval() const;
  // One stream's life with the controller at `address`; returns how it ended, and
  // sets `refused_by_follower` to the leader a follower named ("" if none) when a
  // follower refused the stream.
  absl::Status RunStream(const std::atomic<bool>& stop, const std::string& address,
                         std::optional<std::string>* refused_by_follower);
  // Every stats interval, connected or not, takes the pipelines' deltas into the
  // outbox, so they are folded there rather than piling up in the pipelines.
  void CollectStatsIfDue();
  // Sends the outbox's report (again, unchanged, if its last write failed; then
  // the folded pending deltas). False when a write failed.
  template <typename Write>
  bool SendStats(const Write& write);
  // Applies `assignment` and builds the Ack or Nack. Serialised by apply_mu_, so a
  // retry never races a newer assignment.
  v1::WorkerMessage ApplyAndAnswer(const v1::Assignment& assignment)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);

  const ControlClientConfig config_;
  AssignmentHandler* handler_;
  std::atomic<bool> connected_{false};
  mutable absl::Mutex mu_;
  std::string last_applied_ ABSL_GUARDED_BY(mu_);
  absl::Duration stats_interval_ ABSL_GUARDED_BY(mu_);
  absl::Time next_stats_collection_ ABSL_GUARDED_BY(mu_);
  StatsOutbox outbox_ ABSL_GUARDED_BY(mu_);
  absl::Mutex apply_mu_;
  // The last assignment, while it stands NACKed.
  std::optional<v1::Assignment> nacked_ ABSL_GUARDED_BY(apply_mu_);
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_CONTROL_CLIENT_H_
