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

 private:
  mutable absl::Mutex mu_;
  absl::Time now_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_MANUAL_CLOCK_H_
