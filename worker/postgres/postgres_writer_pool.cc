#include "worker/postgres/postgres_writer_pool.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice::worker {

absl::StatusOr<std::unique_ptr<PostgresWriterPool>> PostgresWriterPool::Create(
    const PostgresSinkConfig& config, int writers, const Clock* clock) {
  if (writers < 1 || writers > kMaxWriters) {
    return absl::InvalidArgumentError(
        absl::StrCat("writers: ", writers, " is not between 1 and ", kMaxWriters));
  }
  std::unique_ptr<PostgresWriterPool> pool(new PostgresWriterPool());
  ASSIGN_OR_RETURN(pool->offsets_, PostgresBatchSink::Create(config));
  PostgresSinkConfig existing = config;
  existing.create_table = false;  // the first connection created it
  for (int i = 0; i < writers; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<PostgresBatchSink> sink, PostgresBatchSink::Create(existing));
    pool->sinks_.push_back(std::move(sink));
  }
  for (const auto& sink : pool->sinks_) {
    pool->writers_.push_back(std::make_unique<ThreadedBatchWriter>(sink.get(), clock));
  }
  return pool;
}

std::vector<BatchWriter*> PostgresWriterPool::writers() const {
  std::vector<BatchWriter*> out;
  out.reserve(writers_.size());
  for (const auto& w : writers_) out.push_back(w.get());
  return out;
}

}  // namespace sluice::worker
