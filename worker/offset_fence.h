// The fencing decision: which stored offset a write must find for it to commit,
// and whether a batch continues exactly where the stored offset says.
#ifndef SLUICE_WORKER_OFFSET_FENCE_H_
#define SLUICE_WORKER_OFFSET_FENCE_H_

#include <map>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "worker/batch.h"
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
// fails: that is the zombie fence. Owned by the ingest loop. Not thread-safe.
class OffsetFence {
 public:
  // Records the stored offset read at assignment (`stored` empty: no row yet) and
  // the position reading starts from (`stored`, or a symbolic start without a row).
  void Claim(const TopicPartition& partition, std::optional<int64_t> stored, int64_t start);
  void Release(const TopicPartition& partition);
  bool IsClaimed(const TopicPartition& partition) const;
  // The position the next batch of the partition must continue from; empty if
  // the partition is not claimed.
  std::optional<int64_t> Position(const TopicPartition& partition) const;

  // The compare-and-sets that commit `batch`. Refuses a batch that does not
  // continue, for every partition, from the position claimed or last written:
  //   FAILED_PRECONDITION — a partition is not claimed (it was revoked);
  //   ABORTED — a partition's messages start elsewhere (a gap or a move backwards:
  //             messages were dropped or read twice upstream). The caller drops the
  //             batch and claims its partitions again.
  absl::StatusOr<std::vector<OffsetUpdate>> Plan(const Batch& batch) const;

  // After the transaction committed: the stored offsets are now `updates[i].next`.
  void Advance(const std::vector<OffsetUpdate>& updates);

 private:
  struct Claimed {
    std::optional<int64_t> stored;  // the row's value; empty: no row
    int64_t position = 0;           // where the next batch continues from
  };
  std::map<TopicPartition, Claimed> claimed_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_OFFSET_FENCE_H_
