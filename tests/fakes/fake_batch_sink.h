// A BatchSink that records batches and fails on demand.
#ifndef SLUICE_TESTS_FAKES_FAKE_BATCH_SINK_H_
#define SLUICE_TESTS_FAKES_FAKE_BATCH_SINK_H_

#include <deque>
#include <vector>

#include "worker/batch_sink.h"
#include "worker/offset_fence.h"

namespace sluice::testing {

class FakeBatchSink : public worker::BatchSink {
 public:
  // The next Write() calls return these errors, in order, before succeeding.
  void FailNextWrites(std::vector<absl::Status> errors) {
    for (auto& e : errors) failures_.push_back(e);
  }
  void SetFencedPartitions(std::vector<worker::TopicPartition> fenced) { fenced_ = fenced; }
  void SetStored(const worker::OffsetMap& stored) { stored_ = stored; }

  absl::StatusOr<worker::OffsetMap> ClaimPartitions(
      const std::vector<worker::TopicPartition>& partitions) override {
    worker::OffsetMap out;
    for (const auto& tp : partitions) {
      auto it = stored_.find(tp);
      fence_.Claim(tp, it == stored_.end() ? std::nullopt : std::optional<int64_t>(it->second));
      if (it != stored_.end()) out[tp] = it->second;
    }
    return out;
  }
  void ReleasePartitions(const std::vector<worker::TopicPartition>& partitions) override {
    for (const auto& tp : partitions) fence_.Release(tp);
    released_.insert(released_.end(), partitions.begin(), partitions.end());
  }
  bool IsClaimed(const worker::TopicPartition& tp) const override { return fence_.IsClaimed(tp); }
  std::optional<int64_t> FencePosition(const worker::TopicPartition& tp) const override {
    return fence_.Position(tp);
  }
  absl::StatusOr<worker::WriteResult> Write(const worker::Batch& batch) override {
    ++attempts_;
    absl::StatusOr<std::vector<worker::OffsetUpdate>> plan = fence_.Plan(batch.next_offsets);
    if (!plan.ok()) return plan.status();
    if (!failures_.empty()) {
      absl::Status s = failures_.front();
      failures_.pop_front();
      return s;
    }
    fence_.Advance(*plan);
    written_.push_back(batch);
    worker::WriteResult result{static_cast<int64_t>(batch.messages.size()), 0, batch.bytes, {}};
    for (const worker::Message& m : batch.messages) {
      worker::PartitionWrite& pw = result.partitions[m.topic_partition()];
      ++pw.rows;
      pw.bytes += static_cast<int64_t>(m.payload_size());
    }
    return result;
  }
  std::vector<worker::TopicPartition> LastFencedPartitions() const override { return fenced_; }

  const std::vector<worker::Batch>& written() const { return written_; }
  const std::vector<worker::TopicPartition>& released() const { return released_; }
  int attempts() const { return attempts_; }

 private:
  worker::OffsetFence fence_;
  worker::OffsetMap stored_;
  std::deque<absl::Status> failures_;
  std::vector<worker::TopicPartition> fenced_;
  std::vector<worker::Batch> written_;
  std::vector<worker::TopicPartition> released_;
  int attempts_ = 0;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_FAKE_BATCH_SINK_H_
