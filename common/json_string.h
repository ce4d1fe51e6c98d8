// JSON string literals for the JSON Sluice writes by hand (flagd's flag
// configuration, tool reports).
#ifndef SLUICE_COMMON_JSON_STRING_H_
#define SLUICE_COMMON_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace sluice {

// `s` as a JSON string literal (RFC 8259), quotes included: quote, backslash and
// every control character escaped; other bytes (UTF-8) as they are.
std::string JsonString(absl::string_view s);

}  // namespace sluice

#endif  // SLUICE_COMMON_JSON_STRING_H_
