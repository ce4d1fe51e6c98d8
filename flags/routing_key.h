// The routing key of an item, computed the same way by every evaluator: the
// worker, sluicectl and sluice-produce link this; other systems reproduce the
// rules written here (and in README "Percentage rollouts").
#ifndef SLUICE_FLAGS_ROUTING_KEY_H_
#define SLUICE_FLAGS_ROUTING_KEY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "sluice/v1/pipeline.pb.h"

namespace sluice::flags {

// The key `rollout` reads from an item: its Kafka key ("" when it has none), or the
// rollout's json_field read from the payload by JsonFieldKey.
std::string RoutingKeyOf(const v1::Rollout& rollout, const std::optional<std::string>& kafka_key,
                         const std::optional<std::string>& payload);

// The key of the top-level member `field` of the JSON object `payload`:
// - a string gives its value (escapes decoded, UTF-8);
// - any other value gives, with ROUTING_KEY_FORM_RAW_JSON, its exact text in the
//   payload from its first to its last byte ("1.5e3", "-0", "{\"a\": [1, 2]}" with
//   the producer's inner whitespace, integers of any size); with MINIFIED or
//   UNSPECIFIED, simdjson's re-serialisation (see pipeline.proto);
// - "" when the payload is not valid UTF-8 JSON text (RFC 8259; for RAW_JSON no
//   limit on number size or nesting, and an unpaired surrogate escape in a string
//   makes it invalid), its top level is not an object, or `field` is missing.
// Of several members with the same name, RAW_JSON takes the last (as PostgreSQL's
// jsonb, Python and JavaScript do) and MINIFIED the first.
// For a form this build does not know, "" (the worker refuses such pipelines:
// SupportsKeyForm).
std::string JsonFieldKey(absl::string_view payload, absl::string_view field,
                         v1::RoutingKeyForm form);

// Whether this build computes `form` (UNSPECIFIED counts as MINIFIED).
bool SupportsKeyForm(v1::RoutingKeyForm form);

// The forms this build supports beyond MINIFIED, which a worker lists in its Hello.
std::vector<v1::RoutingKeyForm> ExtraKeyForms();

}  // namespace sluice::flags

#endif  // SLUICE_FLAGS_ROUTING_KEY_H_
