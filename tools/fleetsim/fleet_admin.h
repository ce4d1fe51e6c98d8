// fleetsim's Admin calls: creating the flag and the pipelines the simulated
// workers are assigned, and changing the flag's percentage as `sluicectl flags
// set` does (read the version, then SetFlag with expected_version).
#ifndef SLUICE_TOOLS_FLEETSIM_FLEET_ADMIN_H_
#define SLUICE_TOOLS_FLEETSIM_FLEET_ADMIN_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/controller_channel.h"
#include "sluice/v1/admin.grpc.pb.h"

namespace sluice::fleetsim {

// One flag change, timed at the caller.
struct FlagChange {
  // The version before the change and the version SetFlag returned.
  uint64_t old_version = 0;
  uint64_t new_version = 0;
  uint32_t basis_points = 0;
  // When SetFlag was sent and when its answer arrived.
  absl::Time sent;
  absl::Time returned;
};

// Thread-compatible. Every call has a 30 s deadline and names itself
// "fleetsim" in x-sluice-actor (the audit log shows who changed what).
class FleetAdmin {
 public:
  // The caller checked `connection` (OpenControllerChannel would refuse it).
  static absl::StatusOr<std::unique_ptr<FleetAdmin>> Open(const ControllerConnection& connection);

  // Creates the flag unless it exists.
  absl::Status EnsureFlag(const std::string& flag);
  // Creates pipelines <prefix>0 .. <prefix>(count-1), each reading its own topic,
  // with a rollout on `flag` (Kafka key, legacy items skipped) and
  // `desired_workers` workers; existing ones are left as they are. The controller
  // checks neither Kafka nor the table at creation, so nothing else need exist.
  absl::Status EnsurePipelines(const std::string& prefix, int count, const std::string& flag,
                               int desired_workers);
  // The flag as stored (its version is the one a change must name).
  absl::StatusOr<v1::Flag> GetFlag(const std::string& flag);
  // Sets `current` to its next percentage: the last scheduled one plus 1%
  // (wrapping past 100% to 0), so every change is a real one. It takes effect
  // after the controller's propagation lead, but its version is pushed at once.
  // ABORTED if the flag changed since `current` was read.
  absl::StatusOr<FlagChange> SetNextPercentage(const v1::Flag& current);

 private:
  FleetAdmin(ControllerConnection connection, std::unique_ptr<v1::Admin::Stub> stub)
      : connection_(std::move(connection)), stub_(std::move(stub)) {}
  std::unique_ptr<grpc::ClientContext> Call() const;

  const ControllerConnection connection_;
  std::unique_ptr<v1::Admin::Stub> stub_;
};

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_FLEET_ADMIN_H_
