#include "flags/flagd_configuration.h"

#include <cstdint>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "common/proto_time.h"
#include "flags/bucketing.h"
#include "flags/flag_schedule.h"

namespace sluice::flags {
namespace {

// The first millisecond at or after `t`: an item whose millisecond timestamp is
// below it is before `t`, at or above it is not.
int64_t CeilMillis(absl::Time t) {
  return absl::ToInt64Milliseconds(absl::Ceil(t - absl::UnixEpoch(), absl::Milliseconds(1)));
}

std::string Decision(const v1::Flag& flag, uint32_t basis_points) {
  if (basis_points == 0) return "\"legacy\"";
  if (basis_points >= kFullRollout) return "\"kafka\"";
  return absl::StrCat(R"({"fractional":[{"cat":[)", JsonString(flag.salt()), R"(,":",{"var":")",
                      kFlagdRoutingKeyField, R"("}]},["kafka",)", basis_points, R"(],["legacy",)",
                      kFullRollout - basis_points, "]]}");
}

}  // namespace

std::string FlagdTargeting(const v1::Flag& flag) {
  const FlagSchedule schedule(flag);
  std::set<int64_t> instants;
  for (const v1::PercentageChange& c : flag.schedule()) {
    instants.insert(CeilMillis(ToAbslTime(c.effective_time())));
  }
  // Segments [instant, next instant) with their percentage, equal neighbours merged;
  // before the first instant every flag is at 0%.
  std::vector<std::pair<int64_t, uint32_t>> segments;  // (segment end, basis points)
  uint32_t current = 0;
  for (const int64_t instant : instants) {
    const uint32_t next = schedule.BasisPointsAt(absl::FromUnixMillis(instant));
    if (next == current) continue;
    segments.emplace_back(instant, current);
    current = next;
  }
  std::string by_time;
  if (segments.empty()) {
    by_time = Decision(flag, current);
  } else {
    // The item-time expression, shared through flagd's $evaluators.
    const std::string item_ms = absl::StrCat(R"({"$ref":")", kFlagdItemMsEvaluator, R"("})");
    by_time = R"({"if":[)";
    for (const auto& [end, basis_points] : segments) {
      absl::StrAppend(&by_time, R"({"<":[)", item_ms, ",", end, "]},", Decision(flag, basis_points),
                      ",");
    }
    absl::StrAppend(&by_time, Decision(flag, current), "]}");
  }
  // `== null`, not `missing`: JSONLogic's reference `missing` also counts "" as
  // missing, and "" is a routing key (an item whose JSON field is absent).
  return absl::StrCat(R"({"if":[{"==":[{"var":")", kFlagdRoutingKeyField, R"("},null]},null,)",
                      by_time, "]}");
}

std::string FlagdItemMsRule() {
  return absl::StrCat(R"({"if":[{"==":[{"var":")", kFlagdItemTimestampField,
                      R"("},null]},{"*":[{"var":"$flagd.timestamp"},1000]},{"var":")",
                      kFlagdItemTimestampField, R"("}]})");
}

std::string FlagdConfiguration(const v1::FlagSnapshot& snapshot) {
  std::string out =
      absl::StrCat(R"({"$schema":"https://flagd.dev/schema/v0/flags.json",)", R"("$evaluators":{")",
                   kFlagdItemMsEvaluator, R"(":)", FlagdItemMsRule(), R"(},"flags":{)");
  bool first = true;
  for (const v1::Flag& flag : snapshot.flags()) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, JsonString(flag.name()),
                    R"(:{"state":"ENABLED","variants":{"kafka":"kafka","legacy":"legacy"},)",
                    R"("defaultVariant":"legacy","targeting":)", FlagdTargeting(flag),
                    R"(,"metadata":{"sluiceVersion":)", flag.version(), "}}");
  }
  absl::StrAppend(&out, R"(},"metadata":{"sluiceRevision":)", snapshot.revision(), "}}");
  return out;
}

}  // namespace sluice::flags
