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
// The shared evaluator ($evaluators) that reads an item's time: item_ts_ms, or
// without it the evaluator's clock in milliseconds.
inline constexpr absl::string_view kFlagdItemMsEvaluator = "sluiceItemMs";

// Every flag of `snapshot` as one flagd flag: variants "kafka" and "legacy",
// default "legacy", and a targeting that
//  - answers the default (reason DEFAULT) without a routing key (a missing or
//    null `routing_key`; "" is a key);
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

// The targeting rule of one flag (the JSON object), as above; it refers to the
// item-time rule as {"$ref":"sluiceItemMs"}, which the document defines once in
// `$evaluators` (flagd substitutes it): a schedule of many changes stays small.
std::string FlagdTargeting(const v1::Flag& flag);
// The item-time rule: {"if":[{"==":[{"var":"item_ts_ms"},null]},
// {"*":[{"var":"$flagd.timestamp"},1000]},{"var":"item_ts_ms"}]}.
std::string FlagdItemMsRule();

}  // namespace sluice::flags

#endif  // SLUICE_FLAGS_FLAGD_CONFIGURATION_H_
