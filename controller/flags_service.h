// The Flags service: lets systems outside Sluice hold the same flag schedules as
// the workers (Watch) or ask for a decision (Evaluate).
#ifndef SLUICE_CONTROLLER_FLAGS_SERVICE_H_
#define SLUICE_CONTROLLER_FLAGS_SERVICE_H_

#include <atomic>

#include "common/clock.h"
#include "controller/call_authorizer.h"
#include "controller/fleet.h"
#include "controller/leadership.h"
#include "sluice/v1/flags.grpc.pb.h"

namespace sluice::controller {

class FlagsService final : public v1::Flags::Service {
 public:
  // Both calls need the read role (`auth`). Watches are served by the leader
  // only (`leadership`: the flag holders it lists are its watchers, and its
  // schedule horizon is the one kept current); a follower refuses them, and ends
  // those open when it stops leading, with UNAVAILABLE naming the leader.
  // Evaluate reads the stored flags, which every replica has.
  FlagsService(Fleet* fleet, const Clock& clock, const CallAuthorizer& auth,
               const Leadership& leadership)
      : fleet_(fleet), clock_(clock), auth_(auth), leadership_(leadership) {}

  // Sends the snapshot whenever its revision differs from what the watcher holds.
  grpc::Status Watch(grpc::ServerContext* ctx, const v1::WatchFlagsRequest* req,
                     grpc::ServerWriter<v1::FlagSnapshot>* writer) override;
  grpc::Status Evaluate(grpc::ServerContext* ctx, const v1::EvaluateRequest* req,
                        v1::EvaluateResponse* resp) override;

  // Ends every open watch soon.
  void Shutdown();

 private:
  Fleet* fleet_;
  const Clock& clock_;
  const CallAuthorizer& auth_;
  const Leadership& leadership_;
  std::atomic<bool> shutting_down_{false};
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_FLAGS_SERVICE_H_
