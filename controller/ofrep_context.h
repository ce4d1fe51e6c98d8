// The evaluation context of an OFREP request (controller/ofrep_service.h): the
// item's routing key and time, read from the request body.
#ifndef SLUICE_CONTROLLER_OFREP_CONTEXT_H_
#define SLUICE_CONTROLLER_OFREP_CONTEXT_H_

#include <string>
#include <variant>

#include "absl/time/time.h"

namespace sluice::controller {

// What a request asks about: the routing key and the item's time.
struct OfrepSubject {
  std::string key;
  absl::Time at;
};

// OFREP's error code and details, or the subject.
struct OfrepContextError {
  std::string code;
  std::string details;
};

// `body` is {"context": {...}}: the routing key is `routing_key` (a string), else
// `targetingKey`; the time `item_ts_ms` (integer Unix milliseconds), else `now`.
// An error carries OFREP's code: PARSE_ERROR (not a JSON object),
// TARGETING_KEY_MISSING, INVALID_CONTEXT (a field of the wrong type).
std::variant<OfrepSubject, OfrepContextError> ReadOfrepContext(const std::string& body,
                                                               absl::Time now);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_OFREP_CONTEXT_H_
