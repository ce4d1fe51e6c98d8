// A batch of messages on its way to the sink.
#ifndef SLUICE_WORKER_BATCH_H_
#define SLUICE_WORKER_BATCH_H_

#include <vector>

#include "absl/time/time.h"
#include "sluice/v1/stats.pb.h"
#include "worker/message.h"

namespace sluice::worker {

using FlushReason = ::sluice::v1::FlushReason;

struct Batch {
  std::vector<Message> messages;
  // Sum of payload sizes.
  int64_t bytes = 0;
  // Per partition, one past the highest offset in the batch.
  OffsetMap next_offsets;
  // Per partition, the stream position the batch's first message of it continues
  // from: the stored offset the batch must find (the fence refuses any other).
  OffsetMap continues_from;
  // When the first message entered the batch.
  absl::Time opened_at;
  FlushReason reason = ::sluice::v1::FLUSH_REASON_UNSPECIFIED;

  bool empty() const { return messages.empty(); }
};

// Lower-case name of a flush reason for metric labels and logs ("rows", "timeout").
const char* FlushReasonName(FlushReason reason);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_BATCH_H_
