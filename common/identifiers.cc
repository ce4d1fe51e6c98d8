#include "common/identifiers.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice {
namespace {

bool IsIdentifier(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!absl::ascii_isalpha(s[0]) && s[0] != '_') return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

}  // namespace

absl::Status CheckTableName(absl::string_view table) {
  std::vector<absl::string_view> parts = absl::StrSplit(table, '.');
  if (parts.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("'", table, "' has more than one dot"));
  }
  for (absl::string_view p : parts) {
    if (!IsIdentifier(p)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", table, "' is not a table name (letters, digits, _)"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckObjectName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 63 && absl::ascii_isalnum(name[0]);
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_')) ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", name, "' must be 1-63 of a-z, 0-9, - and _, starting with a letter or digit"));
  }
  return absl::OkStatus();
}

absl::Status CheckTopicName(absl::string_view topic) {
  bool ok = !topic.empty() && topic.size() <= 249 && topic != "." && topic != "..";
  for (char c : topic) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", topic, "' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"));
  }
  return absl::OkStatus();
}

absl::Status CheckPortableSalt(absl::string_view salt) {
  for (const char c : salt) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "must be printable ASCII: OpenFeature evaluators hash non-ASCII text differently "
          "(docs/OPENFEATURE.md)");
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice
