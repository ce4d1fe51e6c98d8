#include "tools/fleetsim/fleet_admin.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "flags/flag_schedule.h"

namespace sluice::fleetsim {
namespace {

absl::Status Context(const absl::Status& s, const std::string& what) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<FleetAdmin>> FleetAdmin::Open(
    const ControllerConnection& connection) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = OpenControllerChannel(connection);
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<FleetAdmin>(new FleetAdmin(connection, v1::Admin::NewStub(*channel)));
}

std::unique_ptr<grpc::ClientContext> FleetAdmin::Call() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ctx->AddMetadata("x-sluice-actor", "fleetsim");
  AddControllerToken(connection_, ctx.get());
  return ctx;
}

absl::Status FleetAdmin::EnsureFlag(const std::string& flag) {
  v1::CreateFlagRequest req;
  req.set_name(flag);
  req.set_description("fleetsim load test");
  v1::Flag created;
  const absl::Status s = FromGrpcStatus(stub_->CreateFlag(Call().get(), req, &created));
  if (absl::IsAlreadyExists(s)) return absl::OkStatus();
  return Context(s, absl::StrCat("creating flag ", flag));
}

absl::Status FleetAdmin::EnsurePipelines(const std::string& prefix, int count,
                                         const std::string& flag, int desired_workers) {
  for (int i = 0; i < count; ++i) {
    v1::CreatePipelineRequest req;
    v1::PipelineConfig* c = req.mutable_config();
    c->set_name(absl::StrCat(prefix, i));
    c->add_topics(absl::StrCat(prefix, i));
    c->set_desired_workers(static_cast<uint32_t>(desired_workers));
    c->mutable_rollout()->set_flag(flag);
    c->mutable_rollout()->set_kafka_key(true);
    c->mutable_rollout()->set_skip(true);
    v1::Pipeline created;
    const absl::Status s = FromGrpcStatus(stub_->CreatePipeline(Call().get(), req, &created));
    if (absl::IsAlreadyExists(s)) continue;
    if (!s.ok()) return Context(s, absl::StrCat("creating pipeline ", c->name()));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Flag> FleetAdmin::GetFlag(const std::string& flag) {
  v1::GetFlagRequest get;
  get.set_name(flag);
  v1::Flag current;
  if (absl::Status s = FromGrpcStatus(stub_->GetFlag(Call().get(), get, &current)); !s.ok()) {
    return Context(s, absl::StrCat("reading flag ", flag));
  }
  return current;
}

absl::StatusOr<FlagChange> FleetAdmin::SetNextPercentage(const v1::Flag& current) {
  // The last scheduled percentage (perhaps still ahead of now), not the one in
  // effect: two changes within the lead must still differ.
  const uint32_t last = flags::FlagSchedule(current).BasisPointsAt(absl::InfiniteFuture());
  FlagChange change;
  change.old_version = current.version();
  change.basis_points = (last + 100) % 10100;
  v1::SetFlagRequest set;
  set.set_name(current.name());
  set.set_basis_points(change.basis_points);
  set.set_expected_version(current.version());
  std::unique_ptr<grpc::ClientContext> ctx = Call();
  v1::Flag updated;
  change.sent = absl::Now();
  const grpc::Status status = stub_->SetFlag(ctx.get(), set, &updated);
  change.returned = absl::Now();
  if (!status.ok()) {
    return Context(FromGrpcStatus(status), absl::StrCat("setting flag ", current.name()));
  }
  change.new_version = updated.version();
  return change;
}

}  // namespace sluice::fleetsim
