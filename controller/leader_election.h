// Elects the leading controller replica with a PostgreSQL advisory lock held on a
// connection of its own: the replica holding the lock leads. A leader that dies
// (kill -9, a host gone) loses its connection and with it the lock, and a
// follower takes it within a round or two. The TCP keepalives on both ends of the
// connection bound how long a host that vanished without closing it (power cut,
// partition) keeps the lock: the server ends its session about
// kLeaderConnectionDeadAfter after the last sign of life, and the replica itself
// notices as soon that its connection is gone and stops leading. A leader whose
// process hangs with its host alive stops using the connection, and the server
// ends the idle session after the same bound. A leader acts as one only within
// kLeaderConfirmationValid of its last successful check, shorter than the time
// the server takes to give its lock away, so two replicas do not act as leader
// at once (a call started just before may still finish; the data path does not
// depend on who leads anyway: every batch is fenced in PostgreSQL).
#ifndef SLUICE_CONTROLLER_LEADER_ELECTION_H_
#define SLUICE_CONTROLLER_LEADER_ELECTION_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/controller_metrics.h"
#include "controller/leadership.h"

namespace sluice::controller {

// The leader lock: a session-scoped advisory lock with this key (in pg_locks:
// classid 0, objid the key, objsubid 1). The schema lock is 7400001.
inline constexpr int64_t kLeaderLockKey = 7400002;
// Keepalives (both ends: probes after a third of it, every sixth, three of them),
// TCP_USER_TIMEOUT and the server's idle_session_timeout give up on the
// connection after about this much silence.
inline constexpr absl::Duration kLeaderConnectionDeadAfter = absl::Seconds(5);
// How long a successful check of the lock connection lets the leader act as one:
// half the time the server takes to end a silent session, so a stalled leader
// stops acting before another can have the lock.
inline constexpr absl::Duration kLeaderConfirmationValid = absl::Milliseconds(2500);

struct LeaderElectionOptions {
  // The controller database's libpq connection string; keepalives and timeouts
  // are added to it.
  std::string connection_string;
  // The address workers and clients reach this replica at (--advertise-address):
  // followers name it in their refusals.
  std::string advertise_address;
  // How often the leader checks its connection and a follower tries the lock.
  absl::Duration interval = absl::Seconds(1);
};

// Thread-safe: Run() on its own thread; the Leadership calls from any thread.
class LeaderElection final : public Leadership {
 public:
  // Runs with the lock held, before this replica answers as leader: load the
  // state, restore the workers known before (so their pipelines stay while they
  // reconnect) and compute the schedule horizon. `led_last`: no other replica
  // led since this one (what it holds in memory is the latest). An error gives
  // the lock back, so another replica may lead, and the next round tries again.
  using Takeover = std::function<absl::Status(bool led_last)>;
  // Runs once this replica no longer answers as leader: end the workers' streams
  // and flag watches, which reconnect to the new leader. `holds_lock`: a
  // resignation, before the lock is given up (what it stores now is still the
  // leader's); false when the lock was lost (another replica may lead already).
  using StepDown = std::function<void(bool holds_lock)>;

  LeaderElection(LeaderElectionOptions options, const Clock& clock, ControllerMetrics* metrics,
                 Takeover takeover, StepDown step_down);
  // Resign()s.
  ~LeaderElection() override;

  // One round: connects if needed; the leader checks that its connection (and so
  // its lock) is alive, a follower tries to take the lock, else reads who leads.
  void Step();
  // Step() every interval until `stop`, then Resign().
  void Run(const std::atomic<bool>& stop);
  // Stops leading and closes the connection, which gives the lock to a follower
  // at once (a shutdown, rather than the keepalive wait a crash costs).
  void Resign();

  // Holds the lock, and confirmed it within kLeaderConfirmationValid: a replica
  // that stalled (SIGSTOP, a hung database call) does not act as leader on its
  // return before it has checked, by which time the server may have given the
  // lock to another replica.
  bool IsLeader() const override;
  std::string LeaderAddress() const override;
  std::string OwnAddress() const override { return options_.advertise_address; }

 private:
  struct Db;
  void Lost(const std::string& why, bool holds_lock);

  const LeaderElectionOptions options_;
  const Clock& clock_;
  ControllerMetrics* const metrics_;
  const Takeover takeover_;
  const StepDown step_down_;
  // Used by Step() and Resign() only, one at a time (step_mu_).
  absl::Mutex step_mu_;
  std::unique_ptr<Db> db_ ABSL_GUARDED_BY(step_mu_);
  std::atomic<bool> leading_{false};
  // Until when (steady clock, nanoseconds since its epoch) the last check vouches
  // for the lock.
  std::atomic<int64_t> confirmed_until_ns_{0};
  mutable absl::Mutex mu_;
  std::string leader_address_ ABSL_GUARDED_BY(mu_);
  // Logged once per failure streak, not every round.
  std::string last_error_ ABSL_GUARDED_BY(step_mu_);
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_LEADER_ELECTION_H_
