// A BatchSink that keeps stored offsets in memory, applies the compare-and-sets
// like the real one, records committed batches and fails on demand.
#ifndef SLUICE_TESTS_FAKES_FAKE_BATCH_SINK_H_
#define SLUICE_TESTS_FAKES_FAKE_BATCH_SINK_H_

#include <deque>
#include <functional>
#include <vector>

#include "worker/batch_sink.h"

namespace sluice::testing {

class FakeBatchSink : public worker::BatchSink {
 public:
  // The next Write() calls return these errors, in order, before succeeding.
  void FailNextWrites(std::vector<absl::Status> errors) {
    for (auto& e : errors) failures_.push_back(e);
  }
  // Forgets the errors FailNextWrites() queued and not yet returned.
  void ClearWriteFailures() { failures_.clear(); }
  // The next ReadOffsets() calls return these errors, in order.
  void FailNextReads(std::vector<absl::Status> errors) {
    for (auto& e : errors) read_failures_.push_back(e);
  }
  // Runs at the start of every Write() with the attempt number (from 1).
  void OnWrite(std::function<void(int)> f) { on_write_ = std::move(f); }
  // What sluice_offsets holds (another writer may "move" it between calls).
  void SetStored(const worker::OffsetMap& stored) { stored_ = stored; }
  void SetStored(const worker::TopicPartition& tp, int64_t next) { stored_[tp] = next; }
  const worker::OffsetMap& stored() const { return stored_; }

  absl::StatusOr<worker::OffsetMap> ReadOffsets(
      const std::vector<worker::TopicPartition>& partitions) override {
    ++reads_;
    if (!read_failures_.empty()) {
      absl::Status s = read_failures_.front();
      read_failures_.pop_front();
      return s;
    }
    worker::OffsetMap out;
    for (const auto& tp : partitions) {
      auto it = stored_.find(tp);
      if (it != stored_.end()) out[tp] = it->second;
    }
    return out;
  }

  absl::StatusOr<std::vector<worker::TopicPartition>> MoveOffsets(
      const std::vector<worker::OffsetUpdate>& updates) override {
    std::vector<worker::TopicPartition> fenced = Fenced(updates);
    if (fenced.empty()) {
      for (const worker::OffsetUpdate& u : updates) stored_[u.partition] = u.next;
    }
    return fenced;
  }

  absl::StatusOr<worker::WriteResult> Write(
      const worker::Batch& batch, const std::vector<worker::OffsetUpdate>& updates) override {
    ++attempts_;
    if (on_write_) on_write_(attempts_);
    if (!failures_.empty()) {
      absl::Status s = failures_.front();
      failures_.pop_front();
      return s;
    }
    worker::WriteResult result;
    result.fenced = Fenced(updates);
    if (!result.fenced.empty()) return result;
    for (const worker::OffsetUpdate& u : updates) stored_[u.partition] = u.next;
    written_.push_back(batch);
    result.rows_written = static_cast<int64_t>(batch.messages.size());
    result.bytes_written = batch.bytes;
    result.kafka_items = result.rows_written;
    for (const worker::Message& m : batch.messages) {
      worker::PartitionWrite& pw = result.partitions[m.topic_partition()];
      if (!m.unrouted_reason.empty()) {
        // A dead letter on neither path, as the PostgreSQL sink does.
        ++pw.dead_letters;
        ++result.dead_letters;
        ++result.unrouted_dead_letters;
        --result.rows_written;
        --result.kafka_items;
        continue;
      }
      ++pw.rows;
      pw.bytes += static_cast<int64_t>(m.payload_size());
    }
    return result;
  }

  const std::vector<worker::Batch>& written() const { return written_; }
  // Every offset written, per partition, in order.
  std::vector<int64_t> WrittenOffsets(const worker::TopicPartition& tp) const {
    std::vector<int64_t> out;
    for (const worker::Batch& b : written_) {
      for (const worker::Message& m : b.messages) {
        if (m.topic_partition() == tp) out.push_back(m.offset);
      }
    }
    return out;
  }
  int attempts() const { return attempts_; }
  int reads() const { return reads_; }

 private:
  // The compare-and-sets that would fail against what is stored, as in PostgreSQL.
  std::vector<worker::TopicPartition> Fenced(const std::vector<worker::OffsetUpdate>& updates) {
    std::vector<worker::TopicPartition> fenced;
    for (const worker::OffsetUpdate& u : updates) {
      auto it = stored_.find(u.partition);
      const std::optional<int64_t> have =
          it == stored_.end() ? std::nullopt : std::optional<int64_t>(it->second);
      if (have != u.expected) fenced.push_back(u.partition);
    }
    return fenced;
  }

  worker::OffsetMap stored_;
  std::deque<absl::Status> failures_;
  std::deque<absl::Status> read_failures_;
  std::vector<worker::Batch> written_;
  int attempts_ = 0;
  int reads_ = 0;
  std::function<void(int)> on_write_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_FAKE_BATCH_SINK_H_
