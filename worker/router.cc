#include "worker/router.h"

#include "simdjson.h"

namespace sluice::worker {

std::string RoutingKey(const v1::Rollout& rollout, const Message& message) {
  if (rollout.has_json_field()) {
    if (!message.payload) return "";
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(message.payload->data(), message.payload->size()).get(doc)) return "";
    simdjson::dom::element value;
    if (doc[rollout.json_field()].get(value)) return "";
    std::string_view text;
    if (!value.get(text)) return std::string(text);
    return simdjson::minify(value);
  }
  return message.key.value_or("");
}

Router::Router(v1::Rollout rollout, std::shared_ptr<const flags::FlagSchedule> schedule)
    : rollout_(std::move(rollout)), schedule_(std::move(schedule)) {}

void Router::Route(Message* message, absl::Time now) const {
  std::shared_ptr<const flags::FlagSchedule> schedule;
  {
    absl::MutexLock lock(&mu_);
    schedule = schedule_;
  }
  const flags::Evaluation e =
      schedule->Evaluate(RoutingKey(rollout_, *message), message->timestamp.value_or(now));
  message->path = e.in_rollout ? Path::kKafka : Path::kLegacy;
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
