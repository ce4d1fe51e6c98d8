#include "tools/fleetsim/delayed_task_runner.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace sluice::fleetsim {

DelayedTaskRunner::DelayedTaskRunner() : thread_([this] { Loop(); }) {}

DelayedTaskRunner::~DelayedTaskRunner() { Stop(); }

void DelayedTaskRunner::RunAt(absl::Time when, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  queue_.push(Entry{when, next_order_++, std::move(task)});
}

void DelayedTaskRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queue_ = {};
  }
  if (thread_.joinable()) thread_.join();
}

bool DelayedTaskRunner::HasWork(DelayedTaskRunner* r) {
  r->mu_.AssertReaderHeld();
  return r->stopping_ || (!r->queue_.empty() && r->queue_.top().when <= absl::Now());
}

void DelayedTaskRunner::Loop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_) {
        if (!queue_.empty() && queue_.top().when <= absl::Now()) break;
        // Woken by Stop() or when a task added meanwhile is due; otherwise at the
        // head's time, and at least every 100 ms (a task added for earlier than the
        // head waits at most that long).
        absl::Time wake = absl::Now() + absl::Milliseconds(100);
        if (!queue_.empty()) wake = std::min(wake, queue_.top().when);
        mu_.AwaitWithDeadline(absl::Condition(&DelayedTaskRunner::HasWork, this), wake);
      }
      if (stopping_) return;
      // priority_queue::top is const; the entry is popped right after.
      task = std::move(const_cast<Entry&>(queue_.top()).task);
      queue_.pop();
    }
    task();
  }
}

}  // namespace sluice::fleetsim
