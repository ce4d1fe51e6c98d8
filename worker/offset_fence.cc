#include "worker/offset_fence.h"

#include "absl/strings/str_cat.h"

namespace sluice::worker {

void OffsetFence::Claim(const TopicPartition& partition, std::optional<int64_t> stored) {
  claimed_[partition] = stored;
}

void OffsetFence::Release(const TopicPartition& partition) { claimed_.erase(partition); }

bool OffsetFence::IsClaimed(const TopicPartition& partition) const {
  return claimed_.count(partition) > 0;
}

std::optional<int64_t> OffsetFence::Position(const TopicPartition& partition) const {
  auto it = claimed_.find(partition);
  if (it == claimed_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<OffsetUpdate>> OffsetFence::Plan(const OffsetMap& next_offsets) const {
  std::vector<OffsetUpdate> updates;
  updates.reserve(next_offsets.size());
  for (const auto& [partition, next] : next_offsets) {
    auto it = claimed_.find(partition);
    if (it == claimed_.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("partition ", partition.ToString(), " is not assigned to this worker"));
    }
    if (it->second.has_value() && next <= *it->second) {
      return absl::InternalError(absl::StrCat("offset of ", partition.ToString(),
                                              " would move from ", *it->second, " to ", next));
    }
    updates.push_back({partition, it->second, next});
  }
  return updates;
}

void OffsetFence::Advance(const std::vector<OffsetUpdate>& updates) {
  for (const OffsetUpdate& u : updates) {
    auto it = claimed_.find(u.partition);
    if (it != claimed_.end()) it->second = u.next;
  }
}

}  // namespace sluice::worker
