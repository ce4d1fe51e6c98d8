#include "controller/flags_service.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/proto_time.h"
#include "flags/flag_schedule.h"

namespace sluice::controller {

void FlagsService::Shutdown() {
  shutting_down_ = true;
  fleet_->Notify();
}

grpc::Status FlagsService::Watch(grpc::ServerContext* ctx, const v1::WatchFlagsRequest* req,
                                 grpc::ServerWriter<v1::FlagSnapshot>* writer) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  uint64_t held = req->since_revision();
  uint64_t seen = fleet_->generation();
  std::optional<uint64_t> looked_at;  // the generation last looked at
  uint64_t recorded = 0;  // the revision the fleet lists this watch as holding
  google::protobuf::Timestamp sent_known_until;
  // Listed by `flags status` with what it holds until it ends.
  const uint64_t watch_id =
      fleet_->WatchStarted(absl::StrCat(ctx->peer(), " (", caller->name, ")"));
  struct End {
    Fleet* fleet;
    uint64_t id;
    ~End() { fleet->WatchEnded(id); }
  } end{fleet_, watch_id};
  while (!ctx->IsCancelled() && !shutting_down_) {
    // A token revoked meanwhile (SIGHUP) ends the watch.
    if (absl::StatusOr<Caller> still = auth_.Authorize(*ctx, Role::kRead); !still.ok()) {
      return ToGrpcStatus(still.status());
    }
    // Stepped down (the step-down wakes every watcher): to the new leader.
    if (!leadership_.IsLeader()) return FollowerRefusal(leadership_, ctx);
    if (seen == looked_at) {  // nothing changed since the last look
      seen = fleet_->WaitForChange(seen, fleet_->stream_recheck_interval());
      continue;
    }
    looked_at = seen;
    v1::FlagSnapshot snapshot = fleet_->FlagSnapshot();
    if (snapshot.revision() != held) {
      if (!writer->Write(snapshot)) break;
      held = snapshot.revision();
      sent_known_until = snapshot.schedule_known_until();
    } else if (req->send_horizon() && snapshot.has_schedule_known_until() &&
               snapshot.schedule_known_until() != sent_known_until) {
      // Same flags, the horizon moved: the caller keeps its flags.
      v1::FlagSnapshot horizon;
      horizon.set_revision(held);
      *horizon.mutable_schedule_known_until() = snapshot.schedule_known_until();
      horizon.set_horizon_only(true);
      if (!writer->Write(horizon)) break;
      sent_known_until = snapshot.schedule_known_until();
    }
    // Sent now, or already held (its since_revision was current).
    if (snapshot.revision() == held && held != recorded) {
      fleet_->WatchHolds(watch_id, snapshot);
      recorded = held;
    }
    // The next turn waits for a change (seen == looked_at) after checking the token.
  }
  return grpc::Status::OK;
}

grpc::Status FlagsService::Evaluate(grpc::ServerContext* ctx, const v1::EvaluateRequest* req,
                                    v1::EvaluateResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // Keep the snapshot alive: flags() refers into it.
  const v1::FlagSnapshot snapshot = fleet_->FlagSnapshot();
  for (const v1::Flag& f : snapshot.flags()) {
    if (f.name() != req->flag()) continue;
    const absl::Time at = req->has_at() ? ToAbslTime(req->at()) : clock_.Now();
    const flags::Evaluation e = flags::FlagSchedule(f).Evaluate(req->key(), at);
    resp->set_in_rollout(e.in_rollout);
    resp->set_bucket(e.bucket);
    resp->set_basis_points(e.basis_points);
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("flag ", req->flag(), " not found"));
}

}  // namespace sluice::controller
