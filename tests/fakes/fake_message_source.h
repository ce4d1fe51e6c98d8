// A scripted MessageSource: each Poll() runs the next step of a script.
#ifndef SLUICE_TESTS_FAKES_FAKE_MESSAGE_SOURCE_H_
#define SLUICE_TESTS_FAKES_FAKE_MESSAGE_SOURCE_H_

#include <deque>
#include <functional>
#include <vector>

#include "worker/message_source.h"

namespace sluice::testing {

class FakeMessageSource : public worker::MessageSource {
 public:
  // One Poll(): returns these messages after running `before` (which may call
  // the rebalance handler, advance a clock or request a stop).
  struct Step {
    std::function<void(worker::RebalanceHandler*)> before;
    std::vector<worker::Message> messages;
  };

  void AddStep(Step step) { steps_.push_back(std::move(step)); }
  // When the script runs out, Poll() calls this (e.g. to stop the loop).
  void OnExhausted(std::function<void()> f) { on_exhausted_ = std::move(f); }

  absl::Status Subscribe(const std::vector<std::string>& topics,
                         worker::RebalanceHandler* handler) override {
    subscribed_ = topics;
    handler_ = handler;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<worker::Message>> Poll(size_t max_messages,
                                                    absl::Duration timeout) override {
    polls_.push_back(timeout);
    if (steps_.empty()) {
      if (on_exhausted_) on_exhausted_();
      return std::vector<worker::Message>{};
    }
    Step step = std::move(steps_.front());
    steps_.pop_front();
    if (step.before) step.before(handler_);
    return step.messages;
  }
  void CommitAsync(const worker::OffsetMap& next_offsets) override {
    commits_.push_back(next_offsets);
  }
  absl::Status Seek(const worker::OffsetMap& next_offsets) override {
    seeks_.push_back(next_offsets);
    return absl::OkStatus();
  }
  void Pause(const std::vector<worker::TopicPartition>& partitions) override {
    paused_.insert(paused_.end(), partitions.begin(), partitions.end());
  }
  absl::Status Close() override {
    closed_ = true;
    return absl::OkStatus();
  }
  std::vector<worker::PartitionLag> Lag() const override { return {}; }
  int AssignedPartitionCount() const override { return 1; }

  worker::RebalanceHandler* handler() const { return handler_; }
  const std::vector<worker::OffsetMap>& commits() const { return commits_; }
  const std::vector<worker::OffsetMap>& seeks() const { return seeks_; }
  const std::vector<worker::TopicPartition>& paused() const { return paused_; }
  const std::vector<absl::Duration>& polls() const { return polls_; }
  bool closed() const { return closed_; }

 private:
  std::deque<Step> steps_;
  std::function<void()> on_exhausted_;
  std::vector<std::string> subscribed_;
  worker::RebalanceHandler* handler_ = nullptr;
  std::vector<worker::OffsetMap> commits_;
  std::vector<worker::OffsetMap> seeks_;
  std::vector<worker::TopicPartition> paused_;
  std::vector<absl::Duration> polls_;
  bool closed_ = false;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_FAKE_MESSAGE_SOURCE_H_
