// Routing-key extraction (flags/routing_key) and bucketing (flags/bucketing).
// Input: the JSON field name, a newline, then the payload; without a newline the
// whole input is the payload and the field is "id".
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "flags/bucketing.h"
#include "flags/routing_key.h"
#include "fuzz/fuzz_check.h"
#include "simdjson.h"
#include "worker/json_reader.h"
#include "worker/json_routing_key.h"

namespace {

using ::sluice::flags::JsonFieldKey;
using ::sluice::v1::RoutingKeyForm;

constexpr RoutingKeyForm kRaw = ::sluice::v1::ROUTING_KEY_FORM_RAW_JSON;
constexpr RoutingKeyForm kMinified = ::sluice::v1::ROUTING_KEY_FORM_MINIFIED;

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsUtf8(absl::string_view s) { return simdjson::validate_utf8(s.data(), s.size()); }

// `s` as a JSON string literal.
std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", c);
      out.append(escape);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

std::string Show(absl::string_view s) { return JsonString(s.substr(0, 200)); }

// RAW_JSON against simdjson, for payloads simdjson parses: the last member named
// `field` gives its string value, or text that parses to the same value.
void CheckAgainstSimdjson(absl::string_view payload, absl::string_view field,
                          const std::string& raw) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(payload.data(), payload.size()).get(doc)) return;
  simdjson::dom::object object;
  if (doc.get(object)) {
    FUZZ_CHECK(raw.empty(), "a key from a payload that is not an object: " + Show(raw));
    return;
  }
  std::optional<simdjson::dom::element> last;
  for (auto member : object) {
    if (member.key == std::string_view(field.data(), field.size())) last = member.value;
  }
  if (!last) {
    FUZZ_CHECK(raw.empty(), "a key for a missing field: " + Show(raw));
    return;
  }
  std::string_view text;
  if (!last->get(text)) {
    FUZZ_CHECK(raw == text, "string value " + Show(absl::string_view(text.data(), text.size())) +
                                " read as " + Show(raw));
    return;
  }
  // Not a string: the exact text of the value, which parses back to it.
  simdjson::dom::parser reparser;
  simdjson::dom::element again;
  FUZZ_CHECK(!reparser.parse(raw.data(), raw.size()).get(again),
             "the raw key does not parse: " + Show(raw));
  FUZZ_CHECK(
      simdjson::minify(again) == simdjson::minify(*last),
      "raw key " + Show(raw) + " is not the member's value " + Show(simdjson::minify(*last)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const absl::string_view field =
      newline == absl::string_view::npos ? "id" : input.substr(0, newline);
  const absl::string_view payload =
      newline == absl::string_view::npos ? input : input.substr(newline + 1);

  const std::string raw = JsonFieldKey(payload, field, kRaw);
  const std::string minified = JsonFieldKey(payload, field, kMinified);

  // Deterministic, and UNSPECIFIED means MINIFIED; an unknown form gives no key.
  FUZZ_CHECK(JsonFieldKey(payload, field, kRaw) == raw, "RAW_JSON differs on a second call");
  FUZZ_CHECK(JsonFieldKey(payload, field, kMinified) == minified,
             "MINIFIED differs on a second call");
  FUZZ_CHECK(JsonFieldKey(payload, field, ::sluice::v1::ROUTING_KEY_FORM_UNSPECIFIED) == minified,
             "UNSPECIFIED differs from MINIFIED");
  FUZZ_CHECK(JsonFieldKey(payload, field, static_cast<RoutingKeyForm>(3)).empty(),
             "an unknown key form gave a key");

  // RoutingKeyOf picks the payload's field or the Kafka key, never the other.
  ::sluice::v1::Rollout by_field;
  by_field.set_json_field(std::string(field));
  by_field.set_key_form(kRaw);
  FUZZ_CHECK(
      ::sluice::flags::RoutingKeyOf(by_field, std::string("kafka"), std::string(payload)) == raw,
      "RoutingKeyOf(json_field) is not JsonFieldKey");
  FUZZ_CHECK(::sluice::flags::RoutingKeyOf(by_field, std::string("kafka"), std::nullopt).empty(),
             "a key from a tombstone");
  ::sluice::v1::Rollout by_kafka_key;
  by_kafka_key.set_kafka_key(true);
  FUZZ_CHECK(::sluice::flags::RoutingKeyOf(by_kafka_key, std::string(payload),
                                           std::string(field)) == payload,
             "RoutingKeyOf(kafka_key) is not the Kafka key");

  // Bucketing: in range and deterministic.
  const uint32_t bucket = ::sluice::flags::RolloutBucket(field, raw);
  FUZZ_CHECK(bucket < ::sluice::flags::kFullRollout, absl::StrCat("bucket ", bucket));
  FUZZ_CHECK(::sluice::flags::RolloutBucket(field, raw) == bucket, "bucket differs");
  FUZZ_CHECK(!::sluice::flags::InRollout(bucket, 0) &&
                 ::sluice::flags::InRollout(bucket, ::sluice::flags::kFullRollout),
             "0% takes a key or 100% leaves one out");

  CheckAgainstSimdjson(payload, field, raw);

  // The worker reads RAW_JSON keys from the one pass that also validates and maps
  // the payload (worker/json_routing_key): the same key, with other pointers beside.
  for (const auto& pointers :
       {std::vector<std::vector<std::string>>{{std::string(field)}},
        std::vector<std::vector<std::string>>{
            {"a"}, {"a", "0"}, {std::string(field), "x"}, {std::string(field)}}}) {
    ::sluice::worker::JsonRead read;
    read.syntax = ::sluice::worker::ReadJson(payload, ::sluice::worker::JsonPointerSet(pointers),
                                             &read.spans);
    const std::string from_read =
        ::sluice::worker::RawJsonKeyOf(payload, read, pointers.size() - 1);
    FUZZ_CHECK(from_read == raw,
               "the worker's one-pass key " + Show(from_read) + " is not RAW_JSON's " + Show(raw));
  }

  if (raw.empty()) return 0;
  // A key comes only from valid UTF-8 JSON that PostgreSQL's grammar accepts, whose
  // top level is an object; the key itself is UTF-8.
  FUZZ_CHECK(IsUtf8(payload), "a key from a payload that is not UTF-8");
  FUZZ_CHECK(::sluice::worker::CheckJsonSyntax(payload).ok(),
             "a key from a payload the JSON grammar refuses");
  const size_t first = payload.find_first_not_of(" \t\n\r");
  FUZZ_CHECK(first != absl::string_view::npos && payload[first] == '{',
             "a key from a payload that is not an object");
  FUZZ_CHECK(IsUtf8(raw), "a key that is not UTF-8: " + Show(raw));

  // Re-extraction: the key written as a JSON string under the same field reads back
  // the same in both forms.
  const std::string as_string = absl::StrCat("{", JsonString(field), ":", JsonString(raw), "}");
  FUZZ_CHECK(JsonFieldKey(as_string, field, kRaw) == raw,
             "RAW_JSON re-extraction of " + Show(raw) + " from " + Show(as_string));
  FUZZ_CHECK(JsonFieldKey(as_string, field, kMinified) == raw,
             "MINIFIED re-extraction of " + Show(raw) + " from " + Show(as_string));
  // A key that is itself JSON text (not a string, no outer whitespace) reads back
  // verbatim when written as the member's value.
  if (raw.front() != '"' && !IsJsonSpace(raw.front()) && !IsJsonSpace(raw.back()) &&
      ::sluice::worker::CheckJsonSyntax(raw).ok()) {
    const std::string as_value = absl::StrCat("{", JsonString(field), ": ", raw, "}");
    FUZZ_CHECK(JsonFieldKey(as_value, field, kRaw) == raw,
               "RAW_JSON re-extraction of the value " + Show(raw));
  }
  return 0;
}
