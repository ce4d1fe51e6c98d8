// The OFREP request context (controller/ofrep_context): what a remote caller of
// the controller's HTTP port sends. Input: a request body.
#include <cstdint>
#include <string>
#include <variant>

#include "absl/time/time.h"
#include "controller/ofrep_context.h"
#include "fuzz/fuzz_check.h"
#include "simdjson.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using sluice::controller::OfrepContextError;
  using sluice::controller::OfrepSubject;
  const std::string body(reinterpret_cast<const char*>(data), size);
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  const auto got = sluice::controller::ReadOfrepContext(body, now);
  // Deterministic.
  const auto again = sluice::controller::ReadOfrepContext(body, now);
  FUZZ_CHECK(got.index() == again.index(), "not deterministic");
  if (const OfrepContextError* e = std::get_if<OfrepContextError>(&got)) {
    FUZZ_CHECK(e->code == "PARSE_ERROR" || e->code == "TARGETING_KEY_MISSING" ||
                   e->code == "INVALID_CONTEXT",
               "an error code OFREP does not define");
    FUZZ_CHECK(!e->details.empty(), "an error without details");
    return 0;
  }
  // Accepted: simdjson reads the same key from routing_key, else targetingKey.
  const OfrepSubject& s = std::get<OfrepSubject>(got);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  FUZZ_CHECK(!parser.parse(body).get(doc), "accepted what is not JSON");
  std::string_view key;
  if (doc["context"]["routing_key"].get(key)) {
    FUZZ_CHECK(!doc["context"]["targetingKey"].get(key), "accepted without a key");
  }
  FUZZ_CHECK(key == s.key, "a key other than the context's");
  int64_t ms = 0;
  if (!doc["context"]["item_ts_ms"].get(ms)) {
    FUZZ_CHECK(s.at == absl::FromUnixMillis(ms), "a time other than item_ts_ms");
  } else if (doc["context"]["item_ts_ms"].error() == simdjson::NO_SUCH_FIELD) {
    FUZZ_CHECK(s.at == now, "without item_ts_ms the time is not now");
  }
  return 0;
}
