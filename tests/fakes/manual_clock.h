// A Clock that moves only when told to.
#ifndef SLUICE_TESTS_FAKES_MANUAL_CLOCK_H_
#define SLUICE_TESTS_FAKES_MANUAL_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace sluice::testing {

class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1700000000)) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  // Never blocks: sleeping moves the clock, and is recorded.
  void SleepFor(absl::Duration d) const override {
    absl::MutexLock lock(&mu_);
    now_ += d;
    slept_ += d;
  }
  absl::Duration slept() const {
    absl::MutexLock lock(&mu_);
    return slept_;
  }

 private:
  mutable absl::Mutex mu_;
  mutable absl::Time now_;
  mutable absl::Duration slept_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_MANUAL_CLOCK_H_
