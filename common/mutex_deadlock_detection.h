// Turning off abseil's debug-only Mutex deadlock detector in binaries.
#ifndef SLUICE_COMMON_MUTEX_DEADLOCK_DETECTION_H_
#define SLUICE_COMMON_MUTEX_DEADLOCK_DETECTION_H_

#include "absl/synchronization/mutex.h"

namespace sluice {

// Debian's abseil is built without NDEBUG, so every absl::Mutex::Lock runs the
// debug-only deadlock detector: an id lookup and an edge in one process-wide
// graph under one process-wide lock (perf of a controller with 5,000 streams:
// GraphCycles::GetId alone took 8.5% of its CPU). The binaries turn it off
// first thing in main; unit tests, which run no main, keep it and still abort on
// a lock-order cycle.
inline void TurnOffMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace sluice

#endif  // SLUICE_COMMON_MUTEX_DEADLOCK_DETECTION_H_
