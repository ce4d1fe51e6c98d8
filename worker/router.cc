#include "worker/router.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "flags/routing_key.h"
#include "worker/json_routing_key.h"

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

Router::Router(v1::Rollout rollout, std::shared_ptr<const flags::FlagSchedule> schedule,
               const std::vector<std::vector<std::string>>& mapped_pointers)
    : rollout_(std::move(rollout)), schedule_(std::move(schedule)) {
  // MINIFIED keys are simdjson's re-serialisation, read by flags::RoutingKeyOf.
  if (rollout_.has_json_field() && rollout_.key_form() == v1::ROUTING_KEY_FORM_RAW_JSON) {
    std::vector<std::vector<std::string>> pointers = mapped_pointers;
    routing_slot_ = pointers.size();
    pointers.push_back({rollout_.json_field()});
    read_pointers_.emplace(pointers);
  }
}

std::string Router::KeyOf(Message* message) const {
  if (!read_pointers_ || !message->payload) return RoutingKey(rollout_, *message);
  JsonRead& read = message->json.emplace();
  read.syntax = ReadJson(*message->payload, *read_pointers_, &read.spans);
  return RawJsonKeyOf(*message->payload, read, routing_slot_);
}

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
  const flags::Evaluation e = schedule->EvaluateItem(KeyOf(message), message->timestamp);
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
