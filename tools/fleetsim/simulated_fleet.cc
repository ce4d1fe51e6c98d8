#include "tools/fleetsim/simulated_fleet.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_limits.h"
#include "common/grpc_status.h"
#include "flags/routing_key.h"

namespace sluice::fleetsim {
namespace {

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

}  // namespace

SimulatedFleet::SimulatedFleet(SimulatedFleetConfig config) : config_(std::move(config)) {}

SimulatedFleet::~SimulatedFleet() { Close(); }

absl::Status SimulatedFleet::Open() {
  grpc::ChannelArguments args = SluiceChannelArguments();
  // gRPC shares one connection among channels with equal arguments (the global
  // subchannel pool); a local pool gives each channel its own, as each worker
  // process has.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  const int per_connection = std::max(1, config_.streams_per_connection);
  for (int i = 0; i < config_.workers; i += per_connection) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        OpenControllerChannel(config_.controller, args);
    if (!channel.ok()) return channel.status();
    channels_.push_back(*std::move(channel));
  }
  const std::string host = HostName();
  for (int i = 0; i < config_.workers; ++i) {
    SimulatedWorkerConfig w;
    w.index = i;
    w.hello.set_worker_id(absl::StrCat(config_.id_prefix, i));
    w.hello.set_build_version(config_.build_version);
    w.hello.set_host(host);
    w.hello.set_pid(getpid());
    // As the real worker: the key forms this build computes beyond MINIFIED, so
    // the controller assigns it every pipeline a real worker would get.
    for (v1::RoutingKeyForm form : flags::ExtraKeyForms()) w.hello.add_routing_key_forms(form);
    w.default_stats_interval = config_.default_stats_interval;
    w.stats = config_.stats;
    w.seed = config_.seed * 1000003 + static_cast<uint64_t>(i);
    workers_.push_back(std::make_unique<SimulatedWorker>(
        std::move(w), SimulatedWorkerDeps{&config_.controller, &timers_, this}));
  }
  const absl::Time start = absl::Now();
  const double rate = config_.connect_rate > 0 ? config_.connect_rate : 1e9;
  for (int i = 0; i < config_.workers; ++i) {
    timers_.RunAt(start + absl::Seconds(i / rate), [this, i, per_connection] {
      // Counted first: a stream refused at once ends inside Start(). Close() stops
      // this thread before it reads the count, so a counted stream always started.
      opened_.store(i + 1);
      workers_[i]->Start(channels_[i / per_connection]);
    });
  }
  return absl::OkStatus();
}

bool SimulatedFleet::WaitForFirstAcks(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return first_acked_ + ended_ >= config_.workers;
  };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  return first_acked_ >= config_.workers;
}

void SimulatedFleet::ExpectFlag(const std::string& flag, uint64_t version) {
  absl::MutexLock lock(&mu_);
  expected_flag_ = flag;
  expected_version_ = version;
  flag_acks_ = 0;
}

int SimulatedFleet::WaitForFlagAcks(int count, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto done = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return flag_acks_ >= count; };
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  return flag_acks_;
}

int SimulatedFleet::CountCarrying(const std::string& flag) const {
  int n = 0;
  for (int i = 0; i < Readable(); ++i) n += workers_[i]->CarriesFlag(flag) ? 1 : 0;
  return n;
}

std::vector<FlagSighting> SimulatedFleet::Sightings(const std::string& flag,
                                                    uint64_t version) const {
  std::vector<FlagSighting> out;
  for (int i = 0; i < Readable(); ++i) {
    if (std::optional<FlagSighting> s = workers_[i]->FirstSighting(flag, version)) {
      out.push_back(*s);
    }
  }
  return out;
}

std::vector<double> SimulatedFleet::FirstAssignmentMs() const {
  std::vector<double> out;
  for (int i = 0; i < Readable(); ++i) {
    if (auto d = workers_[i]->FirstAssignmentAfter()) out.push_back(absl::ToDoubleMilliseconds(*d));
  }
  return out;
}

std::vector<double> SimulatedFleet::FirstAckMs() const {
  std::vector<double> out;
  for (int i = 0; i < Readable(); ++i) {
    if (auto d = workers_[i]->FirstAckAfter()) out.push_back(absl::ToDoubleMilliseconds(*d));
  }
  return out;
}

uint64_t SimulatedFleet::StatsReportsSent() const {
  uint64_t n = 0;
  for (int i = 0; i < Readable(); ++i) n += workers_[i]->stats_reports_sent();
  return n;
}

FleetCounts SimulatedFleet::Counts() const {
  FleetCounts c;
  c.opened = opened_.load();
  absl::MutexLock lock(&mu_);
  c.accepted = accepted_;
  c.first_acked = first_acked_;
  c.ended = ended_;
  c.ended_by_code = ended_by_code_;
  c.first_error = first_error_;
  return c;
}

int SimulatedFleet::Readable() const {
  return std::min(opened_.load(), static_cast<int>(workers_.size()));
}

void SimulatedFleet::Close() {
  if (closed_.exchange(true)) return;
  // No stream opens and no report is sent after this; the task running now ends first.
  timers_.Stop();
  const int opened = opened_.load();
  for (int i = 0; i < opened; ++i) workers_[i]->Cancel();
  bool all_ended;
  {
    absl::MutexLock lock(&mu_);
    auto done = [this, opened]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_ >= opened; };
    all_ended = mu_.AwaitWithTimeout(absl::Condition(&done), absl::Seconds(30));
  }
  // A stream that never ended may still call into its worker: keep them all.
  if (!all_ended) {
    for (std::unique_ptr<SimulatedWorker>& w : workers_) w.release();
  }
  workers_.clear();
}

void SimulatedFleet::OnStreamAccepted(int) {
  absl::MutexLock lock(&mu_);
  ++accepted_;
}

void SimulatedFleet::OnFirstAck(int) {
  absl::MutexLock lock(&mu_);
  ++first_acked_;
}

void SimulatedFleet::OnFlagAcked(const std::string& flag, uint64_t version) {
  absl::MutexLock lock(&mu_);
  if (flag == expected_flag_ && version >= expected_version_) ++flag_acks_;
}

void SimulatedFleet::OnStreamEnded(int, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  ++ended_;
  const absl::Status s = FromGrpcStatus(status);
  ++ended_by_code_[absl::StatusCodeToString(s.code())];
  if (!s.ok() && first_error_.empty() && !closed_) first_error_ = std::string(s.message());
}

}  // namespace sluice::fleetsim
