#include "worker/batch_accounting.h"

namespace sluice::worker {

WriteResult AccountCommittedBatch(const Batch& batch, const std::vector<RejectedRow>& rejected,
                                  bool legacy_skipped) {
  WriteResult result;
  int64_t skipped = 0;
  for (const Message& m : batch.messages) {
    if (!m.unrouted_reason.empty()) {
      // On neither path; a dead letter below.
    } else if (m.path == Path::kLegacy) {
      ++result.legacy_items;
      if (legacy_skipped) {
        ++skipped;
        continue;
      }
    } else {
      ++result.kafka_items;
    }
    PartitionWrite& pw = result.partitions[m.topic_partition()];
    ++pw.rows;
    pw.bytes += static_cast<int64_t>(m.payload_size());
  }
  for (const RejectedRow& r : rejected) {
    if (!r.message->unrouted_reason.empty()) {
      ++result.unrouted_dead_letters;
    } else {
      ++(r.message->path == Path::kLegacy ? result.legacy_dead_letters : result.kafka_dead_letters);
    }
    PartitionWrite& pw = result.partitions[r.message->topic_partition()];
    --pw.rows;
    pw.bytes -= static_cast<int64_t>(r.message->payload_size());
    ++pw.dead_letters;
  }
  result.dead_letters = static_cast<int64_t>(rejected.size());
  result.rows_written =
      static_cast<int64_t>(batch.messages.size()) - result.dead_letters - skipped;
  for (const auto& [tp, pw] : result.partitions) result.bytes_written += pw.bytes;
  return result;
}

}  // namespace sluice::worker
