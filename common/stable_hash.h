// Hashes that are the same in every process and on every machine (absl::Hash is
// seeded per process, so it cannot be used for anything shared or persisted).
#ifndef SLUICE_COMMON_STABLE_HASH_H_
#define SLUICE_COMMON_STABLE_HASH_H_

#include <murmurhash.h>

#include <cstdint>

#include "absl/strings/string_view.h"

namespace sluice {

// MurmurHash3 x64-128 (Debian's libmurmurhash), first 64 bits, seed 0.
inline uint64_t StableHash64(absl::string_view data) {
  uint64_t out[2] = {0, 0};
  lmmh_x64_128(data.data(), static_cast<unsigned int>(data.size()), 0, out);
  return out[0];
}

}  // namespace sluice

#endif  // SLUICE_COMMON_STABLE_HASH_H_
