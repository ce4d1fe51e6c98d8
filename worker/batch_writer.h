// Where the ingest loop hands a batch to be written while it goes on consuming.
// The threaded implementation is threaded_batch_writer.h; unit tests drive a
// manual one, so that "while a batch is in flight" is a step a test can take.
#ifndef SLUICE_WORKER_BATCH_WRITER_H_
#define SLUICE_WORKER_BATCH_WRITER_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "worker/batch.h"
#include "worker/batch_sink.h"
#include "worker/offset_fence.h"

namespace sluice::worker {

// What one write attempt came to.
struct WriteOutcome {
  // As BatchSink::Write.
  absl::StatusOr<WriteResult> result;
  // When the attempt ended (the transaction committed, or failed).
  absl::Time finished_at;
};

// Writes one batch at a time through its own BatchSink (its own PostgreSQL
// connection), off the caller's thread. One attempt per Start(): retrying is the
// caller's decision. Called from one thread (the ingest loop's).
class BatchWriter {
 public:
  virtual ~BatchWriter() = default;

  // `ended` runs (on the writer's thread) whenever an attempt ends, so that the
  // caller need not wait out its poll to notice; Wait() returns only after it
  // returned. Set before the first Start().
  virtual void NotifyOnEnd(std::function<void()> ended) = 0;

  // Starts one attempt at writing `batch` with `updates`. Both must stay alive
  // and unchanged until Wait() returns. Only while idle (no attempt unwaited).
  virtual void Start(const Batch& batch, const std::vector<OffsetUpdate>& updates) = 0;

  // Whether the attempt started last has ended, so that Wait() returns at once.
  virtual bool Done() = 0;

  // Blocks until the attempt started last ends; the writer is idle again.
  virtual WriteOutcome Wait() = 0;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_BATCH_WRITER_H_
