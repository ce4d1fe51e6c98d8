// N simulated workers against one controller: opens their streams at a set rate
// (each on its own connection by default, as separate worker processes would
// be), counts what they report, and closes them.
#ifndef SLUICE_TOOLS_FLEETSIM_SIMULATED_FLEET_H_
#define SLUICE_TOOLS_FLEETSIM_SIMULATED_FLEET_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/controller_channel.h"
#include "tools/fleetsim/delayed_task_runner.h"
#include "tools/fleetsim/simulated_worker.h"
#include "tools/fleetsim/stats_report_builder.h"
#include "tools/fleetsim/worker_events.h"

namespace sluice::fleetsim {

struct SimulatedFleetConfig {
  // Address, token and TLS files.
  ControllerConnection controller;
  int workers = 1;
  // Streams opened per second.
  double connect_rate = 100;
  // Streams sharing one HTTP/2 connection (1: a connection per worker).
  int streams_per_connection = 1;
  // Hello.build_version of every simulated worker.
  std::string build_version = "fleetsim";
  // Worker ids are "<id_prefix><index>".
  std::string id_prefix = "fleetsim-";
  absl::Duration default_stats_interval = absl::Seconds(10);
  StatsShape stats;
  uint64_t seed = 1;
};

// How far the fleet got.
struct FleetCounts {
  int opened = 0;
  // Hello taken by the controller.
  int accepted = 0;
  int first_acked = 0;
  // Streams that ended (before Close(): lost).
  int ended = 0;
  // Status code name → streams that ended with it.
  std::map<std::string, int> ended_by_code;
  // An example message of the first stream that ended with an error.
  std::string first_error;
};

// Thread-safe (the WorkerEvents methods are called by the streams).
class SimulatedFleet : public WorkerEvents {
 public:
  explicit SimulatedFleet(SimulatedFleetConfig config);
  // Close()s.
  ~SimulatedFleet() override;

  // Makes the channels and schedules the streams to open at the connect rate,
  // the first at once; returns without waiting. INVALID_ARGUMENT when a channel
  // cannot be made (an unreadable TLS file, a token in clear text).
  absl::Status Open();
  // Waits until every stream wrote its first ACK (true) or `deadline` passed.
  bool WaitForFirstAcks(absl::Time deadline);

  // Starts counting ACKs of `flag` at `version` or later (the counter restarts).
  // Call it before making the change: the controller may push it before the
  // admin call returns.
  void ExpectFlag(const std::string& flag, uint64_t version);
  // Waits until `count` streams acknowledged the expected version or `deadline`
  // passed; returns how many did.
  int WaitForFlagAcks(int count, absl::Time deadline);

  // Streams whose latest assignment carries `flag`.
  int CountCarrying(const std::string& flag) const;
  // Per stream that has it: when `flag` at `version` or later first arrived.
  std::vector<FlagSighting> Sightings(const std::string& flag, uint64_t version) const;
  // Per stream, in milliseconds from opening: first assignment read, first ACK written.
  std::vector<double> FirstAssignmentMs() const;
  std::vector<double> FirstAckMs() const;
  uint64_t StatsReportsSent() const;
  FleetCounts Counts() const;

  // Stops the stats and any stream not yet opened, cancels the open streams and
  // waits (up to 30 s) for them to end. Idempotent.
  void Close();

  void OnStreamAccepted(int index) override;
  void OnFirstAck(int index) override;
  void OnFlagAcked(const std::string& flag, uint64_t version) override;
  void OnStreamEnded(int index, const grpc::Status& status) override;

 private:
  const SimulatedFleetConfig config_;
  DelayedTaskRunner timers_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<SimulatedWorker>> workers_;
  // Streams [0, opened_) were started (in order, on the timer thread).
  std::atomic<int> opened_{0};
  std::atomic<bool> closed_{false};
  // The workers the queries may read: [0, opened_) until Close(), none after.
  int Readable() const;

  mutable absl::Mutex mu_;
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;
  int first_acked_ ABSL_GUARDED_BY(mu_) = 0;
  int ended_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> ended_by_code_ ABSL_GUARDED_BY(mu_);
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  std::string expected_flag_ ABSL_GUARDED_BY(mu_);
  uint64_t expected_version_ ABSL_GUARDED_BY(mu_) = 0;
  int flag_acks_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_SIMULATED_FLEET_H_
