#include "flags/flag_client.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/backoff.h"
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
      active_ = &ctx;
    }
    if (stop_) ctx.TryCancel();
    std::unique_ptr<grpc::ClientReader<v1::FlagSnapshot>> reader = stub->Watch(&ctx, req);
    v1::FlagSnapshot snapshot;
    while (reader->Read(&snapshot)) {
      std::map<std::string, std::shared_ptr<const FlagSchedule>> flags;
      for (const v1::Flag& f : snapshot.flags()) {
        flags[f.name()] = std::make_shared<const FlagSchedule>(f);
      }
      absl::MutexLock lock(&mu_);
      flags_ = std::move(flags);
      revision_ = snapshot.revision();
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
  }
  return schedule->EvaluateItem(key, at);
}

uint64_t FlagClient::revision() const {
  absl::MutexLock lock(&mu_);
  return revision_;
}

}  // namespace sluice::flags
