#include "worker/threaded_batch_writer.h"

#include "glog/logging.h"

namespace sluice::worker {

ThreadedBatchWriter::ThreadedBatchWriter(BatchSink* sink, const Clock* clock)
    : sink_(sink), clock_(clock), thread_([this] { Loop(); }) {}

ThreadedBatchWriter::~ThreadedBatchWriter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void ThreadedBatchWriter::NotifyOnEnd(std::function<void()> ended) {
  absl::MutexLock lock(&mu_);
  ended_ = std::move(ended);
}

void ThreadedBatchWriter::Start(const Batch& batch, const std::vector<OffsetUpdate>& updates) {
  absl::MutexLock lock(&mu_);
  CHECK(batch_ == nullptr && !outcome_) << "a batch writer takes one batch at a time";
  batch_ = &batch;
  updates_ = &updates;
}

bool ThreadedBatchWriter::Done() {
  absl::MutexLock lock(&mu_);
  return Ended();
}

WriteOutcome ThreadedBatchWriter::Wait() {
  absl::MutexLock lock(&mu_);
  CHECK(batch_ != nullptr || outcome_) << "waiting for a batch writer that writes nothing";
  mu_.Await(absl::Condition(this, &ThreadedBatchWriter::Ended));
  WriteOutcome out = std::move(*outcome_);
  outcome_.reset();
  return out;
}

void ThreadedBatchWriter::Loop() {
  while (true) {
    const Batch* batch;
    const std::vector<OffsetUpdate>* updates;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &ThreadedBatchWriter::HasWorkOrStops));
      if (batch_ == nullptr) return;  // stopping, nothing in progress
      batch = batch_;
      updates = updates_;
    }
    WriteOutcome outcome{sink_->Write(*batch, *updates), absl::InfinitePast()};
    outcome.finished_at = clock_->Now();
    std::function<void()> ended;
    {
      absl::MutexLock lock(&mu_);
      batch_ = nullptr;
      updates_ = nullptr;
      outcome_ = std::move(outcome);
      ended = ended_;
      notifying_ = static_cast<bool>(ended);
    }
    if (ended) {
      ended();
      absl::MutexLock lock(&mu_);
      notifying_ = false;
    }
  }
}

}  // namespace sluice::worker
