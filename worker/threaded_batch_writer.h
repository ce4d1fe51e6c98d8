// A BatchWriter with its own thread: the ingest loop consumes, validates and
// batches the next rows while this thread runs the current batch's transaction,
// so the worker and PostgreSQL work at the same time instead of taking turns.
#ifndef SLUICE_WORKER_THREADED_BATCH_WRITER_H_
#define SLUICE_WORKER_THREADED_BATCH_WRITER_H_

#include <optional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "worker/batch_writer.h"

namespace sluice::worker {

class ThreadedBatchWriter : public BatchWriter {
 public:
  // `sink` is used only by this writer's thread from now on; it and `clock`
  // outlive the writer.
  ThreadedBatchWriter(BatchSink* sink, const Clock* clock);
  // Waits for an attempt in progress to end, then joins the thread.
  ~ThreadedBatchWriter() override;

  void NotifyOnEnd(std::function<void()> ended) override;
  void Start(const Batch& batch, const std::vector<OffsetUpdate>& updates) override;
  bool Done() override;
  WriteOutcome Wait() override;

 private:
  void Loop();
  // The attempt ended and `ended_` returned: nothing of it runs any more.
  bool Ended() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return outcome_.has_value() && !notifying_;
  }
  bool HasWorkOrStops() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return batch_ != nullptr || stopping_;
  }

  BatchSink* const sink_;
  const Clock* const clock_;
  absl::Mutex mu_;
  const Batch* batch_ ABSL_GUARDED_BY(mu_) = nullptr;
  const std::vector<OffsetUpdate>* updates_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::optional<WriteOutcome> outcome_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> ended_ ABSL_GUARDED_BY(mu_);
  // Set while `ended_` runs for the outcome just published: Wait() returns only
  // after it, so the caller may destroy what `ended_` touches once it has waited.
  bool notifying_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_THREADED_BATCH_WRITER_H_
