#include "worker/router.h"

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
  {
    absl::MutexLock lock(&mu_);
    schedule = schedule_;
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

uint64_t Router::schedule_version() const {
  absl::MutexLock lock(&mu_);
  return schedule_->version();
}

}  // namespace sluice::worker
