// The PostgreSQL side of one pipeline: one connection that reads and moves stored
// offsets for the ingest loop, and `writers` connections that each write batches
// on their own thread. Several writers let PostgreSQL parse and insert on more
// than one core (one COPY runs on one backend), each in its own transaction with
// its own fenced offsets, since every partition belongs to one writer.
#ifndef SLUICE_WORKER_POSTGRES_POSTGRES_WRITER_POOL_H_
#define SLUICE_WORKER_POSTGRES_POSTGRES_WRITER_POOL_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/batch_limits.h"
#include "common/clock.h"
#include "worker/batch_writer.h"
#include "worker/postgres/postgres_batch_sink.h"
#include "worker/threaded_batch_writer.h"

namespace sluice::worker {

class PostgresWriterPool {
 public:
  // Connects `writers` + 1 times (each connection checks the target table; the
  // first also creates what `config` asks for). Errors as PostgresBatchSink::Create.
  static absl::StatusOr<std::unique_ptr<PostgresWriterPool>> Create(
      const PostgresSinkConfig& config, int writers, const Clock* clock);

  BatchSink* offsets() { return offsets_.get(); }
  std::vector<BatchWriter*> writers() const;

 private:
  PostgresWriterPool() = default;

  std::unique_ptr<PostgresBatchSink> offsets_;
  std::vector<std::unique_ptr<PostgresBatchSink>> sinks_;
  // After sinks_: the threads stop before their connections close.
  std::vector<std::unique_ptr<ThreadedBatchWriter>> writers_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_POSTGRES_WRITER_POOL_H_
