// A scripted MessageSource: each Poll() runs the next step of a script.
// Like the Kafka source it tags the first message of a partition after an assign
// or Seek() with starts_stream; unlike it, it never drops messages collected
// before a revoke or seek, so tests show the loop is safe even then.
#ifndef SLUICE_TESTS_FAKES_FAKE_MESSAGE_SOURCE_H_
#define SLUICE_TESTS_FAKES_FAKE_MESSAGE_SOURCE_H_

#include <atomic>
#include <deque>
#include <functional>
#include <set>
#include <vector>

#include "worker/message_source.h"

namespace sluice::testing {

class FakeMessageSource : public worker::MessageSource {
 public:
  // One Poll(): returns `collected_before` (messages the poll had fetched before
  // `before` ran), then runs `before` (which may call the rebalance handler,
  // advance a clock or request a stop), then returns `messages`.
  struct Step {
    std::function<void(worker::RebalanceHandler*)> before;
    std::vector<worker::Message> messages;
    std::vector<worker::Message> collected_before;
    // The messages were fetched before the last assign or seek (the old stream):
    // none of them is tagged starts_stream.
    bool stale = false;
  };

  void AddStep(Step step) { steps_.push_back(std::move(step)); }
  // When the script runs out, Poll() calls this (e.g. to stop the loop).
  void OnExhausted(std::function<void()> f) { on_exhausted_ = std::move(f); }

  // Assigns `partitions` through the handler, as the group would; returns the
  // positions the handler chose.
  worker::OffsetMap Assign(const std::vector<worker::TopicPartition>& partitions) {
    worker::OffsetMap start = handler_->OnPartitionsAssigned(partitions);
    for (const auto& tp : partitions) fresh_.insert(tp);
    assigned_.push_back(start);
    return start;
  }

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
    std::vector<worker::Message> out;
    auto tag = [&](worker::Message m) { return step.stale ? m : Tag(std::move(m)); };
    for (worker::Message& m : step.collected_before) out.push_back(tag(std::move(m)));
    if (step.before) step.before(handler_);
    for (worker::Message& m : step.messages) out.push_back(tag(std::move(m)));
    return out;
  }
  void CommitAsync(const worker::OffsetMap& next_offsets) override {
    commits_.push_back(next_offsets);
  }
  absl::Status Seek(const worker::OffsetMap& next_offsets) override {
    if (!seek_failures_.empty()) {
      absl::Status s = seek_failures_.front();
      seek_failures_.pop_front();
      return s;
    }
    seeks_.push_back(next_offsets);
    for (const auto& [tp, offset] : next_offsets) fresh_.insert(tp);
    return absl::OkStatus();
  }
  void FailNextSeeks(std::vector<absl::Status> errors) {
    for (auto& e : errors) seek_failures_.push_back(e);
  }
  // What ResolveOffsets() answers for the log start and its end; a partition
  // with no answer set is left out (the broker did not resolve it).
  void SetStartOffset(const worker::TopicPartition& tp, int64_t start) { starts_[tp] = start; }
  void SetEndOffset(const worker::TopicPartition& tp, int64_t end) { ends_[tp] = end; }
  worker::OffsetMap ResolveOffsets(const worker::OffsetMap& symbolic) override {
    worker::OffsetMap resolved;
    for (const auto& [tp, position] : symbolic) {
      const auto& known = position == worker::kOffsetBeginning ? starts_ : ends_;
      auto it = known.find(tp);
      if (it != known.end()) resolved[tp] = it->second;
    }
    return resolved;
  }
  void Pause(const std::vector<worker::TopicPartition>& partitions) override {
    paused_.insert(paused_.end(), partitions.begin(), partitions.end());
  }
  absl::Status Close() override {
    closed_ = true;
    return absl::OkStatus();
  }
  void Wake() override { ++wakes_; }
  int wakes() const { return wakes_; }
  std::vector<worker::PartitionLag> Lag() const override { return lag_; }
  // What Lag() answers from now on (the client's view: lag and high watermark).
  void SetLag(std::vector<worker::PartitionLag> lag) { lag_ = std::move(lag); }
  worker::ClientView Client() const override { return client_; }
  void SetClient(worker::ClientView client) { client_ = std::move(client); }
  int AssignedPartitionCount() const override { return 1; }

  worker::RebalanceHandler* handler() const { return handler_; }
  const std::vector<worker::OffsetMap>& commits() const { return commits_; }
  const std::vector<worker::OffsetMap>& seeks() const { return seeks_; }
  const std::vector<worker::OffsetMap>& assigned() const { return assigned_; }
  const std::vector<worker::TopicPartition>& paused() const { return paused_; }
  const std::vector<absl::Duration>& polls() const { return polls_; }
  bool closed() const { return closed_; }

 private:
  worker::Message Tag(worker::Message m) {
    if (fresh_.erase(m.topic_partition()) > 0) m.starts_stream = true;
    return m;
  }

  std::deque<Step> steps_;
  std::function<void()> on_exhausted_;
  std::vector<std::string> subscribed_;
  std::atomic<int> wakes_{0};
  std::vector<worker::PartitionLag> lag_;
  worker::ClientView client_;
  worker::RebalanceHandler* handler_ = nullptr;
  std::set<worker::TopicPartition> fresh_;
  std::map<worker::TopicPartition, int64_t> starts_;
  std::map<worker::TopicPartition, int64_t> ends_;
  std::vector<worker::OffsetMap> commits_;
  std::vector<worker::OffsetMap> seeks_;
  std::vector<worker::OffsetMap> assigned_;
  std::deque<absl::Status> seek_failures_;
  std::vector<worker::TopicPartition> paused_;
  std::vector<absl::Duration> polls_;
  bool closed_ = false;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_FAKE_MESSAGE_SOURCE_H_
