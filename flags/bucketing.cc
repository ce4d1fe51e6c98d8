#include "flags/bucketing.h"

#include <murmurhash.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace sluice::flags {

uint32_t RolloutBucket(absl::string_view salt, absl::string_view key) {
  const std::string input = absl::StrCat(salt, ":", key);
  uint32_t hash = 0;
  lmmh_x86_32(input.data(), static_cast<unsigned int>(input.size()), 0, &hash);
  return static_cast<uint32_t>((static_cast<uint64_t>(hash) * kFullRollout) >> 32);
}

}  // namespace sluice::flags
