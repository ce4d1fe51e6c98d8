// A StateSource answering from queues a test fills; counts the calls.
#ifndef SLUICE_TESTS_FAKES_FAKE_STATE_SOURCE_H_
#define SLUICE_TESTS_FAKES_FAKE_STATE_SOURCE_H_

#include <deque>

#include "controller/state_source.h"

namespace sluice::testing {

class FakeStateSource : public controller::StateSource {
 public:
  absl::StatusOr<controller::StateSnapshot> LoadState() override {
    ++loads;
    if (load_answers.empty()) return absl::InternalError("no answer queued");
    absl::StatusOr<controller::StateSnapshot> a = load_answers.front();
    load_answers.pop_front();
    return a;
  }
  absl::StatusOr<uint64_t> Revision() override {
    ++polls;
    return revision;
  }
  absl::StatusOr<absl::Time> ScheduleBarrier() override {
    ++barriers;
    return barrier;
  }
  std::deque<absl::StatusOr<controller::StateSnapshot>> load_answers;
  absl::StatusOr<uint64_t> revision = 0;
  absl::StatusOr<absl::Time> barrier = absl::UnixEpoch();
  int loads = 0;
  int polls = 0;
  int barriers = 0;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_FAKE_STATE_SOURCE_H_
