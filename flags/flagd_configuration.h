// Sluice's rollout flags as OpenFeature flagd's flag-configuration JSON, so that
// stock flagd providers (in-process, over the flagd sync protocol) make the same
// decision as the workers for every item (docs/OPENFEATURE.md).
#ifndef SLUICE_FLAGS_FLAGD_CONFIGURATION_H_
#define SLUICE_FLAGS_FLAGD_CONFIGURATION_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sluice/v1/flags.pb.h"

namespace sluice::flags {

// The evaluation context fields the compiled targeting reads.
inline constexpr absl::string_view kFlagdRoutingKeyField = "routing_key";
inline constexpr absl::string_view kFlagdItemTimestampField = "item_ts_ms";

// Every flag of `snapshot` as one flagd flag: variants "kafka" and "legacy",
// default "legacy", and a targeting that
//  - answers the default (reason DEFAULT) without a routing key;
//  - takes the item's time from `item_ts_ms` (Unix milliseconds, a number), or
//    without it the evaluator's clock (`$flagd.timestamp`, whole seconds): flagd
//    overwrites `$flagd.timestamp`, so the schedule cannot use it for the item;
//  - walks the schedule as nested `if`s: before each change's instant (rounded
//    up to the millisecond, which is exactly when an item's millisecond
//    timestamp reaches it) the percentage before it, and so on;
//  - at 0% and 100% names the variant; in between it is flagd's `fractional`
//    over `"<salt>:<routing key>"` with weights kafka = basis points, legacy =
//    10,000 − basis points: bucket = (murmur3_x86_32(seed 0) × 10,000) >> 32,
//    kafka below the basis points, which is RolloutBucket/InRollout.
// The document also carries `metadata.sluiceRevision` (the snapshot's revision)
// and per flag `sluiceVersion`.
std::string FlagdConfiguration(const v1::FlagSnapshot& snapshot);

// The targeting rule of one flag (the JSON object), as above.
std::string FlagdTargeting(const v1::Flag& flag);

// Whether every evaluator hashes `salt` as Sluice does: printable ASCII. flagd's
// JavaScript evaluator (imurmurhash) hashes UTF-16 code units where Sluice
// hashes UTF-8 bytes; the two agree on ASCII only. INVALID_ARGUMENT otherwise.
absl::Status CheckPortableSalt(absl::string_view salt);

}  // namespace sluice::flags

#endif  // SLUICE_FLAGS_FLAGD_CONFIGURATION_H_
