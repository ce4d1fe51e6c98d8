#include "worker/payload_validator.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "simdjson.h"
#include "worker/json_reader.h"

namespace sluice::worker {
namespace {

// PostgreSQL's SQLSTATEs for the refusals predicted here.
constexpr char kInvalidTextRepresentation[] = "22P02";
constexpr char kCharacterNotInRepertoire[] = "22021";
constexpr char kUntranslatableCharacter[] = "22P05";

}  // namespace

// The backslashes before "u0000" must be odd in number.
bool HasJsonNulEscape(absl::string_view json) {
  size_t pos = 0;
  while ((pos = json.find("u0000", pos)) != absl::string_view::npos) {
    size_t backslashes = 0;
    while (backslashes < pos && json[pos - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 1) return true;
    pos += 5;
  }
  return false;
}

class PayloadValidator::JsonParser {
 public:
  simdjson::dom::parser parser;
};

PayloadValidator::PayloadValidator(::sluice::v1::PayloadFormat format)
    : format_(format), json_(std::make_unique<JsonParser>()) {}

PayloadValidator::~PayloadValidator() = default;

std::optional<Rejection> PayloadValidator::Check(absl::string_view payload, const JsonRead* read) {
  switch (format_) {
    case ::sluice::v1::PAYLOAD_FORMAT_BYTES:
      return std::nullopt;
    case ::sluice::v1::PAYLOAD_FORMAT_TEXT:
      if (!simdjson::validate_utf8(payload.data(), payload.size())) {
        return Rejection{"invalid byte sequence for encoding \"UTF8\"", kCharacterNotInRepertoire};
      }
      if (payload.find('\0') != absl::string_view::npos) {
        return Rejection{"invalid byte sequence for encoding \"UTF8\": 0x00",
                         kCharacterNotInRepertoire};
      }
      return std::nullopt;
    case ::sluice::v1::PAYLOAD_FORMAT_JSON:
    default: {
      if (read != nullptr) return JsonbRejection(payload, read->syntax);
      simdjson::dom::element doc;
      if (!json_->parser.parse(payload.data(), payload.size()).get(doc)) {
        // Parsed: valid UTF-8 and JSON (simdjson refuses more than PostgreSQL does:
        // integers beyond 64 bits, numbers beyond double range, nesting beyond
        // 1,024, its capacity; never less). Only the escape jsonb refuses is left.
        if (!HasJsonNulEscape(payload)) return std::nullopt;
        return JsonbRejection(payload, absl::OkStatus());
      }
      return JsonbRejection(payload, CheckJsonSyntax(payload));
    }
  }
}

std::optional<Rejection> JsonbRejection(absl::string_view payload, const absl::Status& syntax) {
  // The server checks the encoding before any type sees the text.
  if (!simdjson::validate_utf8(payload.data(), payload.size())) {
    return Rejection{"invalid byte sequence for encoding \"UTF8\"", kCharacterNotInRepertoire};
  }
  if (!syntax.ok()) {
    if (payload.find('\0') != absl::string_view::npos) {
      return Rejection{"invalid byte sequence for encoding \"UTF8\": 0x00",
                       kCharacterNotInRepertoire};
    }
    return Rejection{absl::StrCat("invalid input syntax for type json: ", syntax.message()),
                     kInvalidTextRepresentation};
  }
  // jsonb stores text without NUL characters and refuses the escape that makes one.
  if (HasJsonNulEscape(payload)) {
    return Rejection{"unsupported Unicode escape sequence: \\u0000 cannot be converted to text",
                     kUntranslatableCharacter};
  }
  return std::nullopt;
}

}  // namespace sluice::worker
