// Percentage bucketing of routing keys, shared bit for bit by the worker, the
// controller, sluicectl and other-language clients (see testdata/).
#ifndef SLUICE_FLAGS_BUCKETING_H_
#define SLUICE_FLAGS_BUCKETING_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace sluice::flags {

// Basis points in 100%.
inline constexpr uint32_t kFullRollout = 10000;

// bucket = (murmur3_x86_32(seed 0, "<salt>:<key>") × 10000) >> 32, in [0, 10000).
// Multiply-shift instead of modulo keeps every bucket equally likely.
uint32_t RolloutBucket(absl::string_view salt, absl::string_view key);

// The key is in the rollout when its bucket is below the percentage, so raising the
// percentage only adds keys and lowering it only removes them.
inline bool InRollout(uint32_t bucket, uint32_t basis_points) { return bucket < basis_points; }

}  // namespace sluice::flags

#endif  // SLUICE_FLAGS_BUCKETING_H_
