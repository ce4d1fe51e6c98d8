#include "worker/postgres/sql_identifiers.h"

#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace sluice::worker {

std::string QuoteIdentifier(absl::string_view name) {
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  quoted.push_back('"');
  return quoted;
}

std::string QuoteQualifiedName(absl::string_view name) {
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(name, '.')) parts.push_back(QuoteIdentifier(part));
  return absl::StrJoin(parts, ".");
}

}  // namespace sluice::worker
