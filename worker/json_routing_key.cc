#include "worker/json_routing_key.h"

#include "simdjson.h"

namespace sluice::worker {

std::string RawJsonKeyOf(absl::string_view payload, const JsonRead& read, size_t slot) {
  if (!read.syntax.ok() || slot >= read.spans.size() || !read.spans[slot].found) return "";
  // A pointer token also names an array element ("/0"): the key is a member of a
  // top-level object only.
  const size_t first = payload.find_first_not_of(" \t\n\r");
  if (first == absl::string_view::npos || payload[first] != '{') return "";
  // The grammar check leaves the encoding to its caller.
  if (!simdjson::validate_utf8(payload.data(), payload.size())) return "";
  const JsonSpan& span = read.spans[slot];
  const absl::string_view value = payload.substr(span.begin, span.end - span.begin);
  if (value.front() != '"') return std::string(value);
  std::string key;
  AppendJsonStringValue(value, &key);
  return key;
}

}  // namespace sluice::worker
