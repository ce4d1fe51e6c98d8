#include "controller/ofrep_context.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "simdjson.h"

namespace sluice::controller {

std::variant<OfrepSubject, OfrepContextError> ReadOfrepContext(const std::string& body,
                                                               absl::Time now) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) || !doc.is_object()) {
    return OfrepContextError{"PARSE_ERROR", "the body must be a JSON object {\"context\": {...}}"};
  }
  simdjson::dom::element c;
  simdjson::dom::object context;
  if (doc["context"].get(c)) {
    return OfrepContextError{
        "TARGETING_KEY_MISSING",
        "no context: it needs routing_key (or targetingKey), the item's routing key"};
  }
  if (c.get(context)) return OfrepContextError{"INVALID_CONTEXT", "context must be an object"};
  OfrepSubject s;
  s.at = now;
  bool keyed = false;
  for (const char* field : {"routing_key", "targetingKey"}) {
    simdjson::dom::element v;
    if (context.at_key(field).get(v)) continue;
    std::string_view text;
    if (v.get(text))
      return OfrepContextError{"INVALID_CONTEXT", absl::StrCat(field, " must be a string")};
    s.key = std::string(text);
    keyed = true;
    break;
  }
  if (!keyed) {
    return OfrepContextError{
        "TARGETING_KEY_MISSING",
        "the context needs routing_key (or targetingKey): the item's routing key"};
  }
  simdjson::dom::element ts;
  if (!context.at_key("item_ts_ms").get(ts)) {
    int64_t ms = 0;
    double d = 0;
    if (!ts.get(ms)) {
      s.at = absl::FromUnixMillis(ms);
    } else if (!ts.get(d) && d >= -9.2e18 && d <= 9.2e18 &&
               d == static_cast<double>(static_cast<int64_t>(d))) {
      // A client that writes every number as a double (1.7e12).
      s.at = absl::FromUnixMillis(static_cast<int64_t>(d));
    } else {
      return OfrepContextError{"INVALID_CONTEXT",
                               "item_ts_ms must be an integer (Unix milliseconds)"};
    }
  }
  return s;
}

}  // namespace sluice::controller
