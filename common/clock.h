// Time source, injected so that timeouts and heartbeats are testable without sleeping.
#ifndef SLUICE_COMMON_CLOCK_H_
#define SLUICE_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace sluice {

// A source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // The current time.
  virtual absl::Time Now() const = 0;
  // Blocks the caller for `d` of this clock's time. Retry and backoff waits go
  // through here, so a test's manual clock turns them into instant time jumps.
  virtual void SleepFor(absl::Duration d) const = 0;
};

// The system's wall clock.
class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  void SleepFor(absl::Duration d) const override { absl::SleepFor(d); }
};

}  // namespace sluice

#endif  // SLUICE_COMMON_CLOCK_H_
