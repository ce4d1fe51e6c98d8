// A Leadership whose state a test sets.
#ifndef SLUICE_TESTS_FAKES_FAKE_LEADERSHIP_H_
#define SLUICE_TESTS_FAKES_FAKE_LEADERSHIP_H_

#include <string>

#include "absl/synchronization/mutex.h"
#include "controller/leadership.h"

namespace sluice::testing {

class FakeLeadership : public controller::Leadership {
 public:
  // Leads, as "self:7400", until told otherwise.
  FakeLeadership() = default;

  void Follow(const std::string& leader) {
    absl::MutexLock lock(&mu_);
    leading_ = false;
    leader_ = leader;
  }
  void Lead() {
    absl::MutexLock lock(&mu_);
    leading_ = true;
    leader_ = own_;
  }

  bool IsLeader() const override {
    absl::MutexLock lock(&mu_);
    return leading_;
  }
  std::string LeaderAddress() const override {
    absl::MutexLock lock(&mu_);
    return leader_;
  }
  std::string OwnAddress() const override { return own_; }

 private:
  const std::string own_ = "self:7400";
  mutable absl::Mutex mu_;
  bool leading_ ABSL_GUARDED_BY(mu_) = true;
  std::string leader_ ABSL_GUARDED_BY(mu_) = own_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_FAKE_LEADERSHIP_H_
