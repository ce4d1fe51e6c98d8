// One simulated worker: a WorkerControl.Connect stream driven by gRPC's callback
// API (no thread of its own). It sends the Hello a real worker sends, ACKs every
// Assignment at once (echoing config_version and nonce), and sends a StatsReport
// every stats interval; it records when each flag version arrived and when its
// ACK was written.
#ifndef SLUICE_TOOLS_FLEETSIM_SIMULATED_WORKER_H_
#define SLUICE_TOOLS_FLEETSIM_SIMULATED_WORKER_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/controller_channel.h"
#include "sluice/v1/control.grpc.pb.h"
#include "tools/fleetsim/delayed_task_runner.h"
#include "tools/fleetsim/stats_report_builder.h"
#include "tools/fleetsim/worker_events.h"

namespace sluice::fleetsim {

struct SimulatedWorkerConfig {
  // Position in the fleet (0..N-1), passed back in WorkerEvents.
  int index = 0;
  // worker_id, build_version, host, pid, routing_key_forms.
  v1::Hello hello;
  // Until an Assignment carries stats_interval.
  absl::Duration default_stats_interval = absl::Seconds(10);
  StatsShape stats;
  // Seeds the stats numbers and the first report's jitter.
  uint64_t seed = 0;
};

// Not owned; all outlive the worker.
struct SimulatedWorkerDeps {
  // The token (and only it) is read from here.
  const ControllerConnection* connection = nullptr;
  // The stats timer.
  DelayedTaskRunner* timers = nullptr;
  WorkerEvents* events = nullptr;
};

// When one flag version reached this worker.
struct FlagSighting {
  uint64_t version = 0;
  // When the assignment carrying it was read.
  absl::Time received;
  // When the ACK answering it was written (InfinitePast until then).
  absl::Time ack_written = absl::InfinitePast();
};

// Thread-safe. Start() at most once; the object must outlive OnDone (see
// ended()), and the DelayedTaskRunner must be stopped before it is destroyed
// (a stats task holds a pointer to it).
class SimulatedWorker : public grpc::ClientBidiReactor<v1::WorkerMessage, v1::ControllerMessage> {
 public:
  SimulatedWorker(SimulatedWorkerConfig config, SimulatedWorkerDeps deps);

  // Opens the stream on `channel` and sends the Hello.
  void Start(const std::shared_ptr<grpc::Channel>& channel);
  // Ends the stream; OnDone (and WorkerEvents::OnStreamEnded) follows.
  void Cancel();

  // The first sighting of `flag` at `min_version` or later; nullopt if none yet.
  std::optional<FlagSighting> FirstSighting(const std::string& flag, uint64_t min_version) const;
  // Whether the latest assignment carries `flag` (so a change of it must reach
  // this worker).
  bool CarriesFlag(const std::string& flag) const;
  // From Start() to the first assignment read, and to its ACK written; nullopt
  // until then.
  std::optional<absl::Duration> FirstAssignmentAfter() const;
  std::optional<absl::Duration> FirstAckAfter() const;
  uint64_t stats_reports_sent() const;

  // Reactions (gRPC's callback threads).
  void OnReadInitialMetadataDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  struct Outgoing {
    v1::WorkerMessage message;
    // For an ACK: the flag versions first carried by the assignment it answers.
    std::vector<std::pair<std::string, uint64_t>> flags;
    bool first_ack = false;
    bool stats = false;
  };
  // Queues a write (one is in flight at a time on a stream).
  void Send(Outgoing out);
  // Answers `assignment` and records which flag versions it brought.
  void Answer(const v1::Assignment& assignment, absl::Time received);
  // Sends a report and schedules the next one.
  void StatsTick();
  // The stream is over for writers: releases the hold taken in Start() once no
  // write is in flight (gRPC may then finish the call).
  void CloseLocked(bool* release_hold) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SimulatedWorkerConfig config_;
  const SimulatedWorkerDeps deps_;
  grpc::ClientContext context_;
  std::unique_ptr<v1::WorkerControl::Stub> stub_;
  // Touched only by the reactions (one read in flight).
  v1::ControllerMessage incoming_;
  // Owned by whoever set writing_.
  Outgoing current_;

  mutable absl::Mutex mu_;
  absl::Time started_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> first_assignment_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> first_ack_ ABSL_GUARDED_BY(mu_);
  std::deque<Outgoing> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // No more writes: the stream ended or a write failed.
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;
  bool acked_once_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<const v1::Assignment> assignment_ ABSL_GUARDED_BY(mu_);
  absl::Duration stats_interval_ ABSL_GUARDED_BY(mu_);
  bool stats_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t stats_sent_ ABSL_GUARDED_BY(mu_) = 0;
  StatsReportBuilder stats_builder_ ABSL_GUARDED_BY(mu_);
  // Flag name → versions in the order they arrived.
  std::map<std::string, std::vector<FlagSighting>> sightings_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_SIMULATED_WORKER_H_
