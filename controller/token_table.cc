#include "controller/token_table.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice::controller {
namespace {

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '@' ||
         c == '-';
}

absl::Status CheckName(absl::string_view name) {
  if (name.empty() || name.size() > 63)
    return absl::InvalidArgumentError("NAME must be 1..63 bytes");
  for (char c : name) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(
          "NAME may hold only letters, digits, '_', '.', '@' and '-'");
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Every byte of `a` is compared (against `b` cycled), so the time depends on
  // a's length only; a length difference is folded in at the end.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  if (b.empty()) return a.empty();
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i % b.size()]);
  }
  return diff == 0;
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view contents) {
  TokenTable table;
  std::set<std::string> names;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto at_line = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", what));
    };
    if (fields.size() != 3) return at_line("expected NAME ROLE TOKEN");
    if (absl::Status s = CheckName(fields[0]); !s.ok()) return at_line(s.message());
    std::optional<Role> role = ParseRole(fields[1]);
    if (!role) return at_line("ROLE must be read, worker or admin");
    for (char c : fields[2]) {
      // What an HTTP/2 header value can carry after "Bearer ".
      if (c < 0x21 || c > 0x7e) return at_line("TOKEN must be printable ASCII");
    }
    if (fields[2].size() < kMinTokenBytes) {
      return at_line(absl::StrCat("TOKEN must be at least ", kMinTokenBytes,
                                  " bytes (generate one with: openssl rand -hex 32)"));
    }
    if (!names.insert(std::string(fields[0])).second) {
      return at_line(absl::StrCat("NAME ", fields[0], " appears twice"));
    }
    for (const Entry& e : table.entries_) {
      if (e.token == fields[2])
        return at_line(absl::StrCat("the token of ", e.holder.name, " appears twice"));
    }
    table.entries_.push_back({{std::string(fields[0]), *role}, std::string(fields[2])});
  }
  if (table.entries_.empty()) return absl::InvalidArgumentError("no tokens in the file");
  return table;
}

const TokenHolder* TokenTable::Find(absl::string_view presented) const {
  const TokenHolder* found = nullptr;
  for (const Entry& e : entries_) {
    // No early exit: every entry is compared.
    if (ConstantTimeEquals(presented, e.token)) found = &e.holder;
  }
  return found;
}

}  // namespace sluice::controller
