// A BatchWriter that writes on the loop's own thread, when the test lets it, so
// that "a batch is in flight while the loop polls" is a deterministic step.
#ifndef SLUICE_TESTS_FAKES_MANUAL_BATCH_WRITER_H_
#define SLUICE_TESTS_FAKES_MANUAL_BATCH_WRITER_H_

#include <functional>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "gtest/gtest.h"
#include "worker/batch_writer.h"

namespace sluice::testing {

// An attempt started by Start() stays in flight until the loop waits for it:
// Done() is true unless the test holds the writer, and Wait() runs the attempt
// through the sink (as if the loop had blocked until the transaction ended).
class ManualBatchWriter : public worker::BatchWriter {
 public:
  ManualBatchWriter(worker::BatchSink* sink, const Clock* clock) : sink_(sink), clock_(clock) {}

  // While held, Done() says false: the loop goes on polling with the batch in
  // flight, until it has to wait for the writer.
  void Hold(bool held) { held_ = held; }
  // Runs whenever an attempt starts, with the attempt's batch.
  void OnStart(std::function<void(const worker::Batch&)> f) { on_start_ = std::move(f); }

  void NotifyOnEnd(std::function<void()> ended) override { ended_ = std::move(ended); }
  void Start(const worker::Batch& batch,
             const std::vector<worker::OffsetUpdate>& updates) override {
    // As the threaded writer, which CHECKs it: one batch at a time.
    if (pending_) ADD_FAILURE() << "Start() while a batch is in flight";
    pending_ = Pending{&batch, &updates};
    ++started_;
    if (on_start_) on_start_(batch);
  }
  bool Done() override { return pending_.has_value() && !held_; }
  worker::WriteOutcome Wait() override {
    if (!pending_) {
      ADD_FAILURE() << "Wait() with no batch in flight";
      return {absl::InternalError("nothing in flight"), clock_->Now()};
    }
    worker::WriteOutcome out{sink_->Write(*pending_->batch, *pending_->updates), clock_->Now()};
    pending_.reset();
    ++waited_;
    if (ended_) ended_();  // as the threaded writer does when an attempt ends
    return out;
  }

  bool in_flight() const { return pending_.has_value(); }
  int started() const { return started_; }
  int waited() const { return waited_; }

 private:
  struct Pending {
    const worker::Batch* batch;
    const std::vector<worker::OffsetUpdate>* updates;
  };
  worker::BatchSink* const sink_;
  const Clock* const clock_;
  std::optional<Pending> pending_;
  bool held_ = false;
  int started_ = 0;
  int waited_ = 0;
  std::function<void(const worker::Batch&)> on_start_;
  std::function<void()> ended_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_MANUAL_BATCH_WRITER_H_
