// Whether this controller replica leads. Only the leader carries the workers'
// streams and flag watches, makes assignments, runs ramps and lease expiry, and
// takes admin writes; followers answer reads of the stored state and refuse the
// rest with UNAVAILABLE naming the leader (LeaderElection decides who leads).
#ifndef SLUICE_CONTROLLER_LEADERSHIP_H_
#define SLUICE_CONTROLLER_LEADERSHIP_H_

#include <grpcpp/support/status.h>

#include <string>

namespace grpc {
class ServerContextBase;
}

namespace sluice::controller {

// Thread-safe.
class Leadership {
 public:
  virtual ~Leadership() = default;
  // This replica leads now (it holds the leader lock and has taken over).
  virtual bool IsLeader() const = 0;
  // The address the leader advertises; "" while no replica leads.
  virtual std::string LeaderAddress() const = 0;
  // The address this replica advertises.
  virtual std::string OwnAddress() const = 0;
};

// OK on the leader. On a follower: UNAVAILABLE "this controller (OWN) follows;
// the leader is LEADER" (or "no controller leads now"), with the leader's address
// in the trailing metadata kLeaderMetadataKey (empty while none leads), which
// clients follow. `ctx` may be null (nothing is added then).
grpc::Status RequireLeader(const Leadership& leadership, grpc::ServerContextBase* ctx);

// The status RequireLeader returns on a follower, without checking.
grpc::Status FollowerRefusal(const Leadership& leadership, grpc::ServerContextBase* ctx);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_LEADERSHIP_H_
