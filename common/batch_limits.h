// Bounds of a pipeline's batch settings, shared by every place that accepts them
// (worker flags, the controller's pipeline validation), so one setting is never
// valid in one and refused in the other.
#ifndef SLUICE_COMMON_BATCH_LIMITS_H_
#define SLUICE_COMMON_BATCH_LIMITS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace sluice {

inline constexpr int64_t kMaxBatchRows = 1000000;
inline constexpr int64_t kMaxBatchBytes = int64_t{1} << 30;
// Also bounds the worker's other waits (shutdown, NACK retry): longer is a typo.
inline constexpr absl::Duration kMaxConsumerTimeout = absl::Hours(1);
// PostgreSQL connections writing one pipeline's batches on a worker, when the
// pipeline does not say: two COPY streams load ~1.15x one on 2 cores, and each
// writer overlaps with the consumer (docs/BENCHMARKS.md).
inline constexpr int kDefaultWriters = 2;
inline constexpr int kMaxWriters = 16;

}  // namespace sluice

#endif  // SLUICE_COMMON_BATCH_LIMITS_H_
