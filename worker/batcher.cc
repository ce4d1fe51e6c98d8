#include "worker/batcher.h"

#include <algorithm>
#include <utility>

namespace sluice::worker {

const char* FlushReasonName(FlushReason reason) {
  switch (reason) {
    case ::sluice::v1::FLUSH_REASON_ROWS:
      return "rows";
    case ::sluice::v1::FLUSH_REASON_BYTES:
      return "bytes";
    case ::sluice::v1::FLUSH_REASON_TIMEOUT:
      return "timeout";
    case ::sluice::v1::FLUSH_REASON_REVOKE:
      return "revoke";
    case ::sluice::v1::FLUSH_REASON_SHUTDOWN:
      return "shutdown";
    default:
      return "unspecified";
  }
}

Batcher::Batcher(const Clock& clock, BatchLimits limits) : clock_(clock), limits_(limits) {}

std::optional<FlushReason> Batcher::Add(Message message, int64_t continues_from) {
  if (open_.messages.empty()) {
    open_.opened_at = clock_.Now();
    born_ = open_.opened_at;
    if (message.timestamp && *message.timestamp < born_) {
      born_ = std::max(*message.timestamp, open_.opened_at - limits_.consumer_timeout);
    }
    open_.messages.reserve(static_cast<size_t>(std::min<int64_t>(limits_.max_rows, 1 << 16)));
  }
  open_.bytes += static_cast<int64_t>(message.payload_size());
  TopicPartition tp = message.topic_partition();
  open_.continues_from.emplace(tp, continues_from);
  int64_t& next = open_.next_offsets[std::move(tp)];
  next = std::max(next, message.offset + 1);
  open_.messages.push_back(std::move(message));
  if (static_cast<int64_t>(open_.messages.size()) >= limits_.max_rows) {
    return ::sluice::v1::FLUSH_REASON_ROWS;
  }
  if (open_.bytes >= limits_.max_bytes) return ::sluice::v1::FLUSH_REASON_BYTES;
  return std::nullopt;
}

absl::Time Batcher::deadline() const {
  if (open_.messages.empty()) return absl::InfiniteFuture();
  const absl::Duration allowance =
      std::clamp(write_allowance_, absl::ZeroDuration(), limits_.consumer_timeout / 2);
  return born_ + limits_.consumer_timeout - allowance;
}

std::optional<FlushReason> Batcher::CheckTimeout() const {
  if (!open_.messages.empty() && clock_.Now() >= deadline()) {
    return ::sluice::v1::FLUSH_REASON_TIMEOUT;
  }
  return std::nullopt;
}

Batch Batcher::Take(FlushReason reason) {
  Batch out = std::move(open_);
  out.reason = reason;
  open_ = Batch();
  return out;
}

}  // namespace sluice::worker
