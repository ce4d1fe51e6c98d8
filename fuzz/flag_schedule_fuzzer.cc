// Flag schedule evaluation (flags/flag_schedule). Input: a serialized
// sluice.v1.Flag. It is evaluated for the keys "", its name and each line of its
// description, at the instants where answers change: each change's effective time,
// a nanosecond and a second either side, the ramp's next step, and both ends of time.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "flags/bucketing.h"
#include "flags/flag_schedule.h"
#include "flags/flagd_configuration.h"
#include "fuzz/fuzz_check.h"
#include "simdjson.h"

namespace {

namespace v1 = ::sluice::v1;
using ::sluice::flags::FlagSchedule;

bool IsValidTimestamp(const google::protobuf::Timestamp& t) {
  using google::protobuf::util::TimeUtil;
  return t.seconds() >= TimeUtil::kTimestampMinSeconds &&
         t.seconds() <= TimeUtil::kTimestampMaxSeconds && t.nanos() >= 0 && t.nanos() < 1000000000;
}

// The percentage at `t` by the schedule's definition, read off the list as given:
// of the changes at or before `t`, the latest; of several at that instant, the one
// last in the list; capped at 100%; 0 before the first.
uint32_t ReferenceBasisPoints(const v1::Flag& flag, absl::Time t) {
  std::optional<absl::Time> best_time;
  uint32_t best = 0;
  for (const v1::PercentageChange& c : flag.schedule()) {
    const absl::Time at = sluice::ToAbslTime(c.effective_time());
    if (at > t) continue;
    if (!best_time || at >= *best_time) {
      best_time = at;
      best = std::min(c.basis_points(), sluice::flags::kFullRollout);
    }
  }
  return best;
}

std::string Where(absl::string_view key, absl::Time t) {
  return absl::StrCat("key \"", key.substr(0, 60), "\" at ", absl::FormatTime(t));
}

// The percentage flagd's form of the flag (flags/flagd_configuration) gives an item
// at millisecond `ms`, read off the compiled rule: the first `<` segment the item
// is before, else the last decision; "legacy" 0, "kafka" 10000, a fractional its
// kafka weight (whose salt must be the flag's, escaping and all).
uint32_t FlagdBasisPoints(simdjson::dom::element by_time, int64_t ms, const std::string& salt) {
  auto decision = [&](simdjson::dom::element d) -> uint32_t {
    std::string_view variant;
    if (!d.get(variant)) {
      FUZZ_CHECK(variant == "legacy" || variant == "kafka", "a variant other than the two");
      return variant == "kafka" ? sluice::flags::kFullRollout : 0;
    }
    simdjson::dom::array fractional;
    FUZZ_CHECK(!d["fractional"].get(fractional), "a decision that is not a variant or fractional");
    std::string_view got_salt, kafka, legacy;
    int64_t kafka_weight = 0, legacy_weight = 0;
    FUZZ_CHECK(!fractional.at(0)["cat"].at(0).get(got_salt) && got_salt == salt,
               "the fractional hashes another salt");
    FUZZ_CHECK(!fractional.at(1).at(0).get(kafka) && kafka == "kafka" &&
                   !fractional.at(1).at(1).get(kafka_weight) &&
                   !fractional.at(2).at(0).get(legacy) && legacy == "legacy" &&
                   !fractional.at(2).at(1).get(legacy_weight),
               "fractional weights are not [kafka, bp], [legacy, 10000 - bp]");
    FUZZ_CHECK(kafka_weight > 0 && legacy_weight > 0 &&
                   kafka_weight + legacy_weight == sluice::flags::kFullRollout,
               "fractional weights do not add up to 10000");
    return static_cast<uint32_t>(kafka_weight);
  };
  simdjson::dom::array steps;
  if (by_time["if"].get(steps)) return decision(by_time);
  FUZZ_CHECK(steps.size() % 2 == 1, "an if without a final decision");
  for (size_t i = 0; i + 1 < steps.size(); i += 2) {
    int64_t end = 0;
    FUZZ_CHECK(!steps.at(i)["<"].at(1).get(end), "a step that is not `item < end`");
    if (ms < end) return decision(steps.at(i + 1));
  }
  return decision(steps.at(steps.size() - 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  v1::Flag flag;
  if (!flag.ParseFromArray(data, static_cast<int>(size))) return 0;
  const FlagSchedule schedule(flag);
  FUZZ_CHECK(schedule.name() == flag.name() && schedule.version() == flag.version(),
             "name or version not kept");
  // The same flag after a round trip through its wire form decides the same.
  v1::Flag copy;
  FUZZ_CHECK(copy.ParseFromString(flag.SerializeAsString()), "the flag does not re-parse");
  const FlagSchedule again(copy);

  std::vector<absl::Time> times = {absl::InfinitePast(), absl::InfiniteFuture(), absl::UnixEpoch()};
  bool all_valid = true;
  for (const v1::PercentageChange& c : flag.schedule()) {
    all_valid = all_valid && IsValidTimestamp(c.effective_time());
    const absl::Time at = sluice::ToAbslTime(c.effective_time());
    for (absl::Duration d : {absl::ZeroDuration(), absl::Nanoseconds(1), absl::Seconds(1)}) {
      times.push_back(at - d);
      times.push_back(at + d);
    }
  }
  if (flag.ramp().has_next_step_time()) {
    times.push_back(sluice::ToAbslTime(flag.ramp().next_step_time()));
  }
  std::vector<std::string> keys = {"", flag.name()};
  for (absl::string_view line : absl::StrSplit(flag.description(), '\n')) {
    keys.emplace_back(line);
    if (keys.size() > 16) break;
  }

  // flagd's form decides as the schedule for every item millisecond near a change.
  if (all_valid) {
    const std::string json = sluice::flags::FlagdTargeting(flag);
    simdjson::dom::parser parser;
    simdjson::dom::element targeting;
    FUZZ_CHECK(!parser.parse(json).get(targeting), "flagd targeting is not JSON: " + json);
    simdjson::dom::element by_time;
    FUZZ_CHECK(!targeting["if"].at(2).get(by_time), "no routing-key guard in " + json);
    for (absl::Time t : times) {
      if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) continue;
      const int64_t ms = absl::ToUnixMillis(t);
      const uint32_t expected = schedule.BasisPointsAt(absl::FromUnixMillis(ms));
      FUZZ_CHECK(FlagdBasisPoints(by_time, ms, flag.salt()) == expected,
                 absl::StrCat("flagd's form at ", ms, " ms: not ", expected, " basis points"));
    }
  }

  for (const std::string& key : keys) {
    const uint32_t bucket = sluice::flags::RolloutBucket(flag.salt(), key);
    FUZZ_CHECK(bucket < sluice::flags::kFullRollout, absl::StrCat("bucket ", bucket));
    std::optional<sluice::flags::Evaluation> widest;
    for (absl::Time t : times) {
      const sluice::flags::Evaluation e = schedule.Evaluate(key, t);
      const std::string where = Where(key, t);
      FUZZ_CHECK(e.basis_points <= sluice::flags::kFullRollout,
                 absl::StrCat(e.basis_points, " basis points, ", where));
      FUZZ_CHECK(e.basis_points == ReferenceBasisPoints(flag, t),
                 absl::StrCat(e.basis_points, " basis points, expected ",
                              ReferenceBasisPoints(flag, t), ", ", where));
      FUZZ_CHECK(schedule.BasisPointsAt(t) == e.basis_points, "BasisPointsAt differs, " + where);
      FUZZ_CHECK(e.bucket == bucket, "the bucket depends on time, " + where);
      FUZZ_CHECK(e.in_rollout == (e.bucket < e.basis_points), "in_rollout, " + where);
      const sluice::flags::Evaluation e2 = again.Evaluate(key, t);
      FUZZ_CHECK(e2.in_rollout == e.in_rollout && e2.bucket == e.bucket &&
                     e2.basis_points == e.basis_points,
                 "a re-parsed flag decides otherwise, " + where);
      const sluice::flags::Evaluation item = schedule.EvaluateItem(key, t);
      FUZZ_CHECK(item.in_rollout == e.in_rollout && item.basis_points == e.basis_points,
                 "EvaluateItem differs from Evaluate, " + where);
      // A key in at some percentage is in at every higher one, whenever that is.
      if (widest && e.basis_points >= widest->basis_points) {
        FUZZ_CHECK(!widest->in_rollout || e.in_rollout, "a higher percentage dropped " + where);
      }
      if (!widest || e.basis_points > widest->basis_points) widest = e;
    }
    // An item without a timestamp is at 0% (the legacy path), whatever the
    // schedule holds, as long as its times are real timestamps.
    if (all_valid) {
      const sluice::flags::Evaluation none = schedule.EvaluateItem(key, std::nullopt);
      FUZZ_CHECK(
          none.basis_points == 0 && !none.in_rollout,
          absl::StrCat("an item without a timestamp at ", none.basis_points, " basis points"));
    }
  }
  return 0;
}
