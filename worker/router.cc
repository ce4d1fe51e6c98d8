#include "worker/router.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "flags/routing_key.h"

namespace sluice::worker {

std::string RoutingKey(const v1::Rollout& rollout, const Message& message) {
  return flags::RoutingKeyOf(rollout, message.key, message.payload);
}

absl::Status CheckRoutable(const v1::Rollout& rollout) {
  if (rollout.has_json_field() && !flags::SupportsKeyForm(rollout.key_form())) {
    return absl::FailedPreconditionError(
        absl::StrCat("rollout.key_form ", static_cast<int>(rollout.key_form()),
                     " is not supported by this worker build; upgrade the worker"));
  }
  return absl::OkStatus();
}

Router::Router(v1::Rollout rollout, std::shared_ptr<const flags::FlagSchedule> schedule)
    : rollout_(std::move(rollout)), schedule_(std::move(schedule)) {}

Router::Timestamp Router::Route(Message* message) const {
  std::shared_ptr<const flags::FlagSchedule> schedule;
  absl::Time known_until;
  {
    absl::MutexLock lock(&mu_);
    schedule = schedule_;
    known_until = known_until_;
  }
  if (message->timestamp.has_value() && *message->timestamp > known_until) {
    return Timestamp::kBeyondKnownSchedule;
  }
  const flags::Evaluation e = schedule->EvaluateItem(RoutingKey(rollout_, *message), message->timestamp);
  message->path = e.in_rollout ? Path::kKafka : Path::kLegacy;
  if (!message->timestamp.has_value()) return Timestamp::kMissing;
  if (schedule->BeforeKeptSchedule(*message->timestamp)) return Timestamp::kBeforeKeptSchedule;
  return Timestamp::kInSchedule;
}

void Router::SetSchedule(std::shared_ptr<const flags::FlagSchedule> schedule) {
  absl::MutexLock lock(&mu_);
  schedule_ = std::move(schedule);
}

void Router::ExtendKnownUntil(uint64_t flag_version, absl::Time known_until,
                              absl::Duration hold_limit, absl::Duration lead) {
  absl::MutexLock lock(&mu_);
  if (schedule_->version() < flag_version) return;  // the horizon of a schedule not held yet
  known_until_ = std::max(known_until_, known_until);
  hold_limit_ = hold_limit;
  if (lead > absl::ZeroDuration()) lead_ = lead;
}

absl::Duration Router::lead() const {
  absl::MutexLock lock(&mu_);
  return lead_;
}

absl::Time Router::known_until() const {
  absl::MutexLock lock(&mu_);
  return known_until_;
}

absl::Duration Router::hold_limit() const {
  absl::MutexLock lock(&mu_);
  return hold_limit_;
}

uint64_t Router::schedule_version() const {
  absl::MutexLock lock(&mu_);
  return schedule_->version();
}

}  // namespace sluice::worker
