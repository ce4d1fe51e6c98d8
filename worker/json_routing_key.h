// The routing key of a rollout keyed by a JSON field in RAW_JSON form, from the
// one reading of the payload the validator and the column mapping also use.
#ifndef SLUICE_WORKER_JSON_ROUTING_KEY_H_
#define SLUICE_WORKER_JSON_ROUTING_KEY_H_

#include <string>

#include "absl/strings/string_view.h"
#include "worker/json_reader.h"

namespace sluice::worker {

// flags::JsonFieldKey(payload, field, ROUTING_KEY_FORM_RAW_JSON), given ReadJson's
// reading of `payload` in which slot `slot` holds the pointer {field} (the top-level
// member): "" unless the payload is UTF-8 JSON whose top level is an object holding
// the field; a string's value; any other value's exact text. The fuzz target
// routing_key checks the two agree on every input.
std::string RawJsonKeyOf(absl::string_view payload, const JsonRead& read, size_t slot);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_JSON_ROUTING_KEY_H_
