// A flag's percentage as of any moment: items are evaluated against the schedule
// as of their own timestamp, so every evaluator decides the same way for an item
// whenever it processes it.
#ifndef SLUICE_FLAGS_FLAG_SCHEDULE_H_
#define SLUICE_FLAGS_FLAG_SCHEDULE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "sluice/v1/flags.pb.h"

namespace sluice::flags {

// The outcome of evaluating a flag for one key at one time.
struct Evaluation {
  bool in_rollout = false;
  uint32_t bucket = 0;
  uint32_t basis_points = 0;
};

// Immutable; thread-safe.
class FlagSchedule {
 public:
  explicit FlagSchedule(const v1::Flag& flag);

  // The percentage in effect at `t`: the last change with effective_time <= t
  // (0 before the first).
  uint32_t BasisPointsAt(absl::Time t) const;
  Evaluation Evaluate(absl::string_view key, absl::Time t) const;
  // Whether an item at `t` is older than the kept schedule (a compacted one): it is
  // then routed by the percentage in effect before the oldest kept change, which
  // may not be how it was routed the first time.
  bool BeforeKeptSchedule(absl::Time t) const {
    return t != absl::InfinitePast() && t < kept_since_;
  }
  absl::Time kept_since() const { return kept_since_; }
  // An item's decision: as of its timestamp; an item without one is evaluated as
  // of the beginning of time, where every flag is at 0% (the legacy path). That is
  // the only instant whose percentage no later change can alter, so every
  // evaluator, now or on a re-read, decides the same.
  Evaluation EvaluateItem(absl::string_view key, std::optional<absl::Time> timestamp) const {
    return Evaluate(key, timestamp.value_or(absl::InfinitePast()));
  }

  const std::string& name() const { return name_; }
  uint64_t version() const { return version_; }

 private:
  std::string name_;
  std::string salt_;
  uint64_t version_ = 0;
  // InfinitePast for a schedule never compacted.
  absl::Time kept_since_ = absl::InfinitePast();
  // Sorted by time.
  std::vector<std::pair<absl::Time, uint32_t>> changes_;
};

// The effective time of the change a compacted schedule starts with: the earliest
// a google.protobuf.Timestamp can hold (0001-01-01T00:00:00Z). Items without a
// timestamp (evaluated as of InfinitePast) stay before it, at 0%.
absl::Time CompactedScheduleStart();

// Compacts the changes that took effect before `cutoff`. With K the change in
// effect at the cutoff and P the one before it, every change before K becomes one
// change at CompactedScheduleStart() with P's percentage; schedule_kept_since is
// set to P's time. Every time from P's on evaluates exactly as before, by any
// evaluator of the plain schedule, and a rollback of K still goes back to P's
// percentage. Returns how many changes were removed (0: the flag is unchanged).
int CompactSchedule(absl::Time cutoff, v1::Flag* flag);

}  // namespace sluice::flags

#endif  // SLUICE_FLAGS_FLAG_SCHEDULE_H_
