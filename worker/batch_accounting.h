// What a committed batch did, per partition and per rollout path: the numbers
// behind the metrics and the stats stream.
#ifndef SLUICE_WORKER_BATCH_ACCOUNTING_H_
#define SLUICE_WORKER_BATCH_ACCOUNTING_H_

#include <string>
#include <vector>

#include "worker/batch.h"
#include "worker/batch_sink.h"

namespace sluice::worker {

// A message the target refused, and PostgreSQL's reason.
struct RejectedRow {
  const Message* message = nullptr;
  std::string error;
  std::string sqlstate;
};

// `legacy_skipped`: legacy-path items are not written anywhere (only their offsets
// move), so they count as items but not as rows or bytes.
WriteResult AccountCommittedBatch(const Batch& batch, const std::vector<RejectedRow>& rejected,
                                  bool legacy_skipped);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_BATCH_ACCOUNTING_H_
