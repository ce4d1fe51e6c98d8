#include "controller/leadership.h"

#include <grpcpp/server_context.h>

#include "absl/strings/str_cat.h"
#include "common/controller_addresses.h"

namespace sluice::controller {

grpc::Status FollowerRefusal(const Leadership& leadership, grpc::ServerContextBase* ctx) {
  const std::string leader = leadership.LeaderAddress();
  // Present even when empty: it marks the refusal as a follower's, which a client
  // may retry elsewhere knowing the call did nothing.
  if (ctx != nullptr) ctx->AddTrailingMetadata(kLeaderMetadataKey, leader);
  return grpc::Status(
      grpc::StatusCode::UNAVAILABLE,
      leader.empty()
          ? absl::StrCat("this controller (", leadership.OwnAddress(),
                         ") follows and no controller leads now (an election is under way); "
                         "retry")
          : absl::StrCat("this controller (", leadership.OwnAddress(), ") follows; the leader is ",
                         leader));
}

grpc::Status RequireLeader(const Leadership& leadership, grpc::ServerContextBase* ctx) {
  if (leadership.IsLeader()) return grpc::Status::OK;
  return FollowerRefusal(leadership, ctx);
}

}  // namespace sluice::controller
