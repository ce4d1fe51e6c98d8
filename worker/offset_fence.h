// The fencing decision: which stored offset a write must find for it to commit.
#ifndef SLUICE_WORKER_OFFSET_FENCE_H_
#define SLUICE_WORKER_OFFSET_FENCE_H_

#include <map>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/message.h"

namespace sluice::worker {

// One compare-and-set on sluice_offsets: the row must hold `expected` (or not
// exist, when `expected` is empty) for `next` to be written.
struct OffsetUpdate {
  TopicPartition partition;
  std::optional<int64_t> expected;
  int64_t next = 0;
};

// Tracks, per claimed partition, the stored offset this writer last read or wrote.
// A newer owner moves the stored offset, so this writer's next compare-and-set
// fails: that is the zombie fence. Not thread-safe.
class OffsetFence {
 public:
  // Records the stored offset read at assignment (empty: no row yet).
  void Claim(const TopicPartition& partition, std::optional<int64_t> stored);
  void Release(const TopicPartition& partition);
  bool IsClaimed(const TopicPartition& partition) const;
  // The stored offset this writer expects; empty if unclaimed or no row yet.
  std::optional<int64_t> Position(const TopicPartition& partition) const;

  // The compare-and-sets that commit `next_offsets`.
  // FAILED_PRECONDITION if a partition is not claimed (it was revoked);
  // INTERNAL if an offset would move backwards or stand still (a bug upstream).
  absl::StatusOr<std::vector<OffsetUpdate>> Plan(const OffsetMap& next_offsets) const;

  // After the transaction committed: the stored offsets are now `updates[i].next`.
  void Advance(const std::vector<OffsetUpdate>& updates);

 private:
  // Claimed partitions; the value is the stored offset (empty: no row).
  std::map<TopicPartition, std::optional<int64_t>> claimed_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_OFFSET_FENCE_H_
