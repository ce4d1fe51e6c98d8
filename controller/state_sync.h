// Keeps the Fleet's pipelines and flags in step with the stored state: after every
// admin write, on a poll of the state's revision, and again after a failure.
#ifndef SLUICE_CONTROLLER_STATE_SYNC_H_
#define SLUICE_CONTROLLER_STATE_SYNC_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "controller/fleet.h"
#include "controller/state_source.h"

namespace sluice::controller {

struct StateSyncConfig {
  // How often the stored revision is read to notice writes made elsewhere
  // (another controller, a direct edit) and to check that the database answers.
  absl::Duration poll_interval = absl::Seconds(5);
  // A failed load is retried after this, doubling up to retry_max.
  absl::Duration retry_initial = absl::Seconds(1);
  absl::Duration retry_max = absl::Seconds(10);
};

// Thread-safe: admin writes call Reload() after their commit, the controller's main
// loop calls Tick() once a second, /ready calls Ready().
//
// Versions only move forward: a snapshot older than the one applied (a slow reload
// finishing after a newer one) is dropped, so workers and FlagClient never step
// back a version. A failed load is not lost behind an OK answer: the state is
// marked stale, Ready() says why, and Tick() retries until a load succeeds.
class StateSync {
 public:
  StateSync(StateSource* source, Fleet* fleet, const Clock& clock, StateSyncConfig config = {});

  // Loads the stored state and applies it (unless older than the applied one).
  absl::Status Reload();
  // Retries a failed load when due; else, every poll_interval, reads the revision
  // and reloads if it moved.
  void Tick();
  // OK once a load succeeded and the database answered the latest check;
  // UNAVAILABLE naming the failure and since when otherwise.
  absl::Status Ready() const;
  // OK once loaded, and while any failure began less than `grace` ago: a copy that
  // recent still decides as the stored state (what serving flags to evaluators
  // that do not acknowledge needs; a blip of the database does not stop them).
  absl::Status ReadyWithin(absl::Duration grace) const;

 private:
  void Failed(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

  StateSource* const source_;
  Fleet* const fleet_;
  const Clock& clock_;
  const StateSyncConfig config_;
  mutable absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  // Set while the state may be stale (a load or a check failed).
  std::string failure_ ABSL_GUARDED_BY(mu_);
  absl::Time failing_since_ ABSL_GUARDED_BY(mu_);
  int failed_attempts_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_attempt_ ABSL_GUARDED_BY(mu_);
  // Serialises loads, so that applying is in the order of reading (the revision
  // check in Fleet::ApplyState keeps it right across controllers too).
  absl::Mutex load_mu_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_STATE_SYNC_H_
