// The JSON checks that predict PostgreSQL's refusals: worker/json_reader
// (CheckJsonSyntax) and worker/payload_validator (PayloadValidator). Input: one
// payload.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_check.h"
#include "simdjson.h"
#include "worker/json_reader.h"
#include "worker/payload_validator.h"

namespace {

using ::sluice::worker::CheckJsonSyntax;
using ::sluice::worker::PayloadValidator;
using ::sluice::worker::Rejection;

std::string Describe(const std::optional<Rejection>& r) {
  return r ? absl::StrCat("refused (", r->sqlstate, ": ", r->error, ")") : "accepted";
}

// True when a string of syntactically valid JSON holds the escape \u0000, found by
// walking the strings (not by searching, as the validator does).
bool HasNulEscape(absl::string_view json) {
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (!in_string) {
      in_string = c == '"';
    } else if (c == '"') {
      in_string = false;
    } else if (c == '\\') {
      if (json.substr(i + 1, 5) == "u0000") return true;
      ++i;  // the escaped character
    }
  }
  return false;
}

// PostgreSQL's answer for a jsonb column, from the parts: the encoding check of
// COPY first, then the JSON grammar, then jsonb's refusal of \u0000.
struct Expected {
  bool accepted;
  const char* sqlstate;
};

Expected ExpectedForJson(bool utf8, bool nul, bool syntax_ok, absl::string_view payload) {
  if (!utf8 || nul) return {false, "22021"};
  if (!syntax_ok) return {false, "22P02"};
  if (HasNulEscape(payload)) return {false, "22P05"};
  return {true, ""};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view payload(reinterpret_cast<const char*>(data), size);

  // CheckJsonSyntax: INVALID_ARGUMENT or OK, deterministic, and the byte it names
  // is inside the input.
  const absl::Status syntax = CheckJsonSyntax(payload);
  FUZZ_CHECK(syntax.ok() || syntax.code() == absl::StatusCode::kInvalidArgument, syntax.ToString());
  FUZZ_CHECK(CheckJsonSyntax(payload) == syntax, "a second check differs");
  if (!syntax.ok()) {
    const size_t at = syntax.message().rfind(" at byte ");
    if (at != absl::string_view::npos) {
      size_t byte = 0;
      FUZZ_CHECK(absl::SimpleAtoi(syntax.message().substr(at + 9), &byte) && byte < size,
                 std::string(syntax.message()));
    }
  }

  // simdjson is stricter than PostgreSQL's grammar (it limits numbers and depth), so
  // whatever it parses the grammar accepts.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const bool simdjson_ok = !parser.parse(payload.data(), payload.size()).get(doc);
  FUZZ_CHECK(!simdjson_ok || syntax.ok(),
             "simdjson parses what CheckJsonSyntax refuses: " + syntax.ToString());

  const bool utf8 = simdjson::validate_utf8(payload.data(), payload.size());
  const bool nul = payload.find('\0') != absl::string_view::npos;

  // PayloadValidator(JSON) refuses exactly what the parts say PostgreSQL refuses, with
  // its SQLSTATE. One validator lives across inputs (as in an ingest loop, reusing
  // its parser) and must answer as a fresh one does.
  static PayloadValidator* reused = new PayloadValidator(::sluice::v1::PAYLOAD_FORMAT_JSON);
  PayloadValidator fresh(::sluice::v1::PAYLOAD_FORMAT_JSON);
  const std::optional<Rejection> json = fresh.Check(payload);
  const std::optional<Rejection> again = reused->Check(payload);
  FUZZ_CHECK(json.has_value() == again.has_value() &&
                 (!json || (json->error == again->error && json->sqlstate == again->sqlstate)),
             "a reused validator says " + Describe(again) + ", a fresh one " + Describe(json));
  const Expected expected = ExpectedForJson(utf8, nul, syntax.ok(), payload);
  FUZZ_CHECK(json.has_value() != expected.accepted,
             absl::StrCat("json: ", Describe(json), ", expected ",
                          expected.accepted ? "accepted" : expected.sqlstate, "; syntax ",
                          syntax.ToString()));
  if (json) {
    FUZZ_CHECK(json->sqlstate == expected.sqlstate,
               absl::StrCat("json: ", Describe(json), ", expected ", expected.sqlstate));
    if (expected.sqlstate == absl::string_view("22P02")) {
      FUZZ_CHECK(
          json->error == absl::StrCat("invalid input syntax for type json: ", syntax.message()),
          json->error);
    }
  }

  // JsonbRejection given the grammar's verdict answers as the validator does.
  const std::optional<Rejection> from_read = ::sluice::worker::JsonbRejection(payload, syntax);
  FUZZ_CHECK(
      from_read.has_value() == json.has_value() &&
          (!json || (json->error == from_read->error && json->sqlstate == from_read->sqlstate)),
      "JsonbRejection says " + Describe(from_read) + ", the validator " + Describe(json));

  // ReadJson with pointers: the same verdict as without, and every value it finds
  // is itself one JSON value, the whole document's being the payload trimmed.
  static const ::sluice::worker::JsonPointerSet* pointers = new ::sluice::worker::JsonPointerSet(
      {{}, {"a"}, {"a", "0"}, {"0"}, {"b", "c"}, {""}, {"a", "b", "c"}});
  std::vector<::sluice::worker::JsonSpan> spans;
  const absl::Status read = ::sluice::worker::ReadJson(payload, *pointers, &spans);
  FUZZ_CHECK(read == syntax,
             "ReadJson says " + read.ToString() + ", CheckJsonSyntax " + syntax.ToString());
  if (read.ok()) {
    FUZZ_CHECK(spans.size() == 7 && spans[0].found, "the whole document was not found");
    for (const ::sluice::worker::JsonSpan& span : spans) {
      if (!span.found) continue;
      FUZZ_CHECK(span.begin < span.end && span.end <= size, "a span outside the payload");
      const absl::string_view value = payload.substr(span.begin, span.end - span.begin);
      FUZZ_CHECK(CheckJsonSyntax(value).ok(), absl::StrCat("a found value is not JSON: ", value));
      FUZZ_CHECK(value.front() != ' ' && value.back() != ' ', "a span holds whitespace");
    }
  }

  // text: UTF-8 without NUL; bytea: anything.
  PayloadValidator text(::sluice::v1::PAYLOAD_FORMAT_TEXT);
  const std::optional<Rejection> t = text.Check(payload);
  FUZZ_CHECK(t.has_value() == (!utf8 || nul), "text: " + Describe(t));
  FUZZ_CHECK(!t || t->sqlstate == "22021", "text: " + Describe(t));
  PayloadValidator bytes(::sluice::v1::PAYLOAD_FORMAT_BYTES);
  FUZZ_CHECK(!bytes.Check(payload).has_value(), "bytes refused a payload");
  return 0;
}
