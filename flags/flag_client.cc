#include "flags/flag_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/proto_time.h"
#include "sluice/v1/flags.grpc.pb.h"

namespace sluice::flags {

absl::StatusOr<std::unique_ptr<FlagClient>> FlagClient::Create(ControllerConnection controller) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenControllerChannel(controller);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<FlagClient>(new FlagClient(std::move(controller), std::move(*channel)));
}

FlagClient::FlagClient(ControllerConnection controller, std::shared_ptr<grpc::Channel> channel)
    : controller_(std::move(controller)),
      channel_(std::move(channel)),
      thread_([this] { Run(); }) {}

FlagClient::~FlagClient() {
  stop_ = true;
  {
    absl::MutexLock lock(&mu_);
    if (active_ != nullptr) active_->TryCancel();
  }
  thread_.join();
}

void FlagClient::Run() {
  ExponentialBackoff backoff(absl::Milliseconds(200), absl::Seconds(10));
  auto stub = v1::Flags::NewStub(channel_);
  while (!stop_) {
    grpc::ClientContext ctx;
    AddControllerToken(controller_, &ctx);
    v1::WatchFlagsRequest req;
    {
      absl::MutexLock lock(&mu_);
      req.set_since_revision(revision_);
      req.set_send_horizon(true);
      active_ = &ctx;
    }
    if (stop_) ctx.TryCancel();
    std::unique_ptr<grpc::ClientReader<v1::FlagSnapshot>> reader = stub->Watch(&ctx, req);
    v1::FlagSnapshot snapshot;
    while (reader->Read(&snapshot)) {
      // The horizon holds for the flags held (a horizon-only snapshot comes
      // after the flags it is about, on the same stream).
      const absl::Time known_until = snapshot.has_schedule_known_until()
                                         ? ToAbslTime(snapshot.schedule_known_until())
                                         : absl::InfinitePast();
      if (snapshot.horizon_only()) {
        absl::MutexLock lock(&mu_);
        if (snapshot.revision() == revision_) known_until_ = std::max(known_until_, known_until);
        continue;
      }
      std::map<std::string, std::shared_ptr<const FlagSchedule>> flags;
      for (const v1::Flag& f : snapshot.flags()) {
        flags[f.name()] = std::make_shared<const FlagSchedule>(f);
      }
      absl::MutexLock lock(&mu_);
      flags_ = std::move(flags);
      revision_ = snapshot.revision();
      // A later revision agrees with the earlier one up to the earlier horizon.
      known_until_ = std::max(known_until_, known_until);
      have_snapshot_ = true;
      backoff.Reset();
    }
    const grpc::Status ended = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      active_ = nullptr;
      if (!ended.ok()) last_error_ = ended.error_message();
    }
    const absl::Time until = absl::Now() + backoff.NextDelay();
    while (!stop_ && absl::Now() < until) absl::SleepFor(absl::Milliseconds(20));
  }
}

bool FlagClient::WaitForSnapshot(absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&have_snapshot_), timeout);
}

absl::StatusOr<Evaluation> FlagClient::Evaluate(const std::string& flag, absl::string_view key,
                                                std::optional<absl::Time> at) const {
  std::shared_ptr<const FlagSchedule> schedule;
  {
    absl::MutexLock lock(&mu_);
    if (!have_snapshot_) {
      return absl::UnavailableError(absl::StrCat("no flags received yet from ", controller_.address,
                                                  last_error_.empty() ? "" : ": ", last_error_));
    }
    auto it = flags_.find(flag);
    if (it == flags_.end()) return absl::NotFoundError(absl::StrCat("flag ", flag, " not found"));
    schedule = it->second;
    if (at.has_value() && *at > known_until_) {
      // A change this client has not received may take effect before `at`:
      // deciding now would be a guess (the workers hold such items too).
      return absl::UnavailableError(absl::StrCat(
          "timestamp ", absl::FormatTime(*at), " is beyond the known schedule of flag ", flag,
          known_until_ == absl::InfinitePast()
              ? std::string(" (no horizon received yet)")
              : absl::StrCat(" (known until ", absl::FormatTime(known_until_), ")"),
          "; the controller at ", controller_.address, " has not confirmed it",
          last_error_.empty() ? "" : ": ", last_error_, "; retry"));
    }
  }
  return schedule->EvaluateItem(key, at);
}

absl::Time FlagClient::known_until() const {
  absl::MutexLock lock(&mu_);
  return known_until_;
}

uint64_t FlagClient::revision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

}  // namespace sluice::flags
