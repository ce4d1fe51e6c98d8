// The replicas of the controller a client may reach (--controller a:7400,b:7400),
// and which of them it calls now. Only the leader serves worker streams, flag
// watches and admin writes; a follower refuses them with UNAVAILABLE and names the
// leader in the trailing metadata kLeaderMetadataKey, which clients follow.
#ifndef SLUICE_COMMON_CONTROLLER_ADDRESSES_H_
#define SLUICE_COMMON_CONTROLLER_ADDRESSES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice {

// Trailing metadata of a follower's refusal: the address the leader advertises
// (--advertise-address), absent while no replica leads.
inline constexpr char kLeaderMetadataKey[] = "x-sluice-leader";

// Not thread-safe: each client loop (a worker's stream, a watch, one sluicectl
// command) owns one.
class ControllerAddresses {
 public:
  // A comma-separated list of addresses ("a:7400,b:7400", spaces around commas
  // ignored; gRPC targets such as "unix:/path" pass through). INVALID_ARGUMENT for
  // an empty list or an empty entry; duplicates are dropped.
  static absl::StatusOr<ControllerAddresses> Parse(absl::string_view list);

  // The address to call now (the first one until a failover).
  const std::string& current() const { return addresses_[current_]; }
  const std::vector<std::string>& all() const { return addresses_; }

  // The call to current() did not reach a leader. `leader_hint`: the leader a
  // follower named ("" when none; FollowableLeader() checked it): moves to it,
  // adding it to the list if it was not there (a replica added since the client
  // started, or a client given one address). Without a hint, or with one naming
  // current(), moves to the next address in the list.
  void Failover(absl::string_view leader_hint);

 private:
  explicit ControllerAddresses(std::vector<std::string> addresses)
      : addresses_(std::move(addresses)) {}

  std::vector<std::string> addresses_;
  size_t current_ = 0;
};

}  // namespace sluice

#endif  // SLUICE_COMMON_CONTROLLER_ADDRESSES_H_
