#include "worker/offset_fence.h"

#include "absl/strings/str_cat.h"

namespace sluice::worker {

void OffsetFence::Claim(const TopicPartition& partition, std::optional<int64_t> stored,
                        int64_t start) {
  claimed_[partition] = Claimed{stored, start};
}

void OffsetFence::Release(const TopicPartition& partition) { claimed_.erase(partition); }

bool OffsetFence::IsClaimed(const TopicPartition& partition) const {
  return claimed_.count(partition) > 0;
}

std::optional<int64_t> OffsetFence::Position(const TopicPartition& partition) const {
  auto it = claimed_.find(partition);
  if (it == claimed_.end()) return std::nullopt;
  return it->second.position;
}

absl::StatusOr<std::vector<OffsetUpdate>> OffsetFence::Plan(const Batch& batch) const {
  std::vector<OffsetUpdate> updates;
  updates.reserve(batch.next_offsets.size());
  for (const auto& [partition, next] : batch.next_offsets) {
    auto it = claimed_.find(partition);
    if (it == claimed_.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("partition ", partition.ToString(), " is not assigned to this worker"));
    }
    const Claimed& claimed = it->second;
    auto from = batch.continues_from.find(partition);
    if (from == batch.continues_from.end() || from->second != claimed.position) {
      return absl::AbortedError(absl::StrCat(
          "the batch's messages of ", partition.ToString(), " continue from ",
          from == batch.continues_from.end() ? std::string("nowhere") : DescribeOffset(from->second),
          " but the stored offset is ", DescribeOffset(claimed.position),
          ": refusing a gap or a move backwards"));
    }
    if (!IsSymbolicOffset(claimed.position) && next <= claimed.position) {
      return absl::AbortedError(absl::StrCat("offset of ", partition.ToString(),
                                             " would move from ", claimed.position, " to ", next));
    }
    updates.push_back({partition, claimed.stored, next});
  }
  return updates;
}

void OffsetFence::Advance(const std::vector<OffsetUpdate>& updates) {
  for (const OffsetUpdate& u : updates) {
    auto it = claimed_.find(u.partition);
    if (it != claimed_.end()) it->second = Claimed{u.next, u.next};
  }
}

}  // namespace sluice::worker
