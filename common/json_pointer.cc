#include "common/json_pointer.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace sluice {

absl::StatusOr<std::vector<std::string>> ParseJsonPointer(absl::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') {
    return absl::InvalidArgumentError("a JSON Pointer is empty or starts with \"/\"");
  }
  std::string token;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(token));
      token.clear();
      continue;
    }
    if (pointer[i] != '~') {
      token.push_back(pointer[i]);
      continue;
    }
    if (i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
      token.push_back(pointer[i + 1] == '0' ? '~' : '/');
      ++i;
      continue;
    }
    return absl::InvalidArgumentError(
        absl::StrCat("\"~\" at byte ", i, " of a JSON Pointer must be followed by 0 or 1"));
  }
  return tokens;
}

bool JsonPointerIndex(absl::string_view token, uint32_t* index) {
  if (token.empty() || token.size() > 10) return false;
  if (token.size() > 1 && token[0] == '0') return false;
  uint64_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > UINT32_MAX) return false;
  *index = static_cast<uint32_t>(value);
  return true;
}

}  // namespace sluice
