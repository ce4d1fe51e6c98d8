#include "flags/flag_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/proto_time.h"
#include "sluice/v1/flags.grpc.pb.h"

namespace sluice::flags {

absl::StatusOr<std::unique_ptr<FlagClient>> FlagClient::Create(ControllerConnection controller) {
  absl::StatusOr<ControllerAddresses> addresses = ControllerAddresses::Parse(controller.address);
  if (!addresses.ok()) return addresses.status();
  // One channel per replica, opened now: a TLS file that cannot be read is an
  // error of the caller's, not something to retry.
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels;
  for (const std::string& address : addresses->all()) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        OpenControllerChannelTo(controller, address);
    if (!channel.ok()) return channel.status();
    channels[address] = std::move(*channel);
  }
  return std::unique_ptr<FlagClient>(
      new FlagClient(std::move(controller), std::move(*addresses), std::move(channels)));
}

FlagClient::FlagClient(ControllerConnection controller, ControllerAddresses addresses,
                       std::map<std::string, std::shared_ptr<grpc::Channel>> channels)
    : controller_(std::move(controller)),
      addresses_(std::move(addresses)),
      channels_(std::move(channels)),
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
  while (!stop_) {
    // Watches are served by the leader; a follower's refusal names it.
    auto channel = channels_.find(addresses_.current());
    if (channel == channels_.end()) {  // a leader named by a follower
      const std::string leader = addresses_.current();
      absl::StatusOr<std::shared_ptr<grpc::Channel>> opened =
          OpenControllerChannelTo(controller_, leader);
      if (!opened.ok()) {  // FollowableLeader checked it; a TLS file gone since
        absl::MutexLock lock(&mu_);
        last_error_ = absl::StrCat(leader, ": ", opened.status().message());
        addresses_.Failover("");
        continue;
      }
      channel = channels_.emplace(leader, std::move(*opened)).first;
    }
    auto stub = v1::Flags::NewStub(channel->second);
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
      if (!ended.ok()) {
        last_error_ = absl::StrCat(addresses_.current(), ": ", ended.error_message());
      }
    }
    // To the leader a follower named, else the next replica; a follower is a
    // live replica (an election takes seconds), so the backoff starts over.
    const std::optional<std::string> refused_by = FollowerRefusalLeader(ctx);
    const std::string leader = FollowableLeader(controller_, refused_by);
    addresses_.Failover(leader);
    if (refused_by && (!leader.empty() || refused_by->empty())) backoff.Reset();
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
