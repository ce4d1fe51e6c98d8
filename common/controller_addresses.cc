#include "common/controller_addresses.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace sluice {

absl::StatusOr<ControllerAddresses> ControllerAddresses::Parse(absl::string_view list) {
  std::vector<std::string> addresses;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("controller address list '", list, "' has an empty entry"));
    }
    if (std::find(addresses.begin(), addresses.end(), part) == addresses.end()) {
      addresses.emplace_back(part);
    }
  }
  return ControllerAddresses(std::move(addresses));
}

void ControllerAddresses::Failover(absl::string_view leader_hint) {
  if (!leader_hint.empty() && leader_hint != addresses_[current_]) {
    auto it = std::find(addresses_.begin(), addresses_.end(), leader_hint);
    if (it == addresses_.end()) it = addresses_.emplace(addresses_.end(), leader_hint);
    current_ = it - addresses_.begin();
    return;
  }
  current_ = (current_ + 1) % addresses_.size();
}

}  // namespace sluice
