// One thread that runs tasks at given times: every simulated stream's stats timer
// and the paced opening of streams share it, so 10,000 streams cost one thread,
// not 10,000 sleeping ones.
#ifndef SLUICE_TOOLS_FLEETSIM_DELAYED_TASK_RUNNER_H_
#define SLUICE_TOOLS_FLEETSIM_DELAYED_TASK_RUNNER_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace sluice::fleetsim {

// Thread-safe. Tasks run one at a time on the runner's thread, in time order
// (ties in the order they were added), never with the runner's lock held, so a
// task may add tasks and may start gRPC operations whose callbacks run inline.
class DelayedTaskRunner {
 public:
  DelayedTaskRunner();
  // Stop()s.
  ~DelayedTaskRunner();

  // Runs `task` at `when` (at once if that is past). Ignored after Stop().
  void RunAt(absl::Time when, std::function<void()> task);
  // Drops the tasks not yet run and joins the thread; the task running now
  // finishes first. After it returns no task runs again.
  void Stop();

 private:
  struct Entry {
    absl::Time when;
    uint64_t order;
    std::function<void()> task;
    // Earliest first in a std::priority_queue (a max-heap).
    bool operator<(const Entry& o) const {
      return when != o.when ? when > o.when : order > o.order;
    }
  };
  void Loop();
  // The condition Loop() waits for: stopping, or the head is due.
  static bool HasWork(DelayedTaskRunner* r) ABSL_NO_THREAD_SAFETY_ANALYSIS;

  absl::Mutex mu_;
  std::priority_queue<Entry> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_order_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_DELAYED_TASK_RUNNER_H_
