// What a simulated worker tells whoever watches the fleet. An interface, so the
// stream's protocol (SimulatedWorker) does not know how the figures are kept.
#ifndef SLUICE_TOOLS_FLEETSIM_WORKER_EVENTS_H_
#define SLUICE_TOOLS_FLEETSIM_WORKER_EVENTS_H_

#include <grpcpp/support/status.h>

#include <cstdint>
#include <string>

namespace sluice::fleetsim {

// Called from gRPC's callback threads, concurrently for different workers;
// implementations must be thread-safe and must not block (they run inside the
// stream's reactions).
class WorkerEvents {
 public:
  virtual ~WorkerEvents() = default;
  // The controller took worker `index`'s Hello (its initial metadata arrived).
  virtual void OnStreamAccepted(int index) = 0;
  // Worker `index`'s first ACK was written to the stream.
  virtual void OnFirstAck(int index) = 0;
  // An ACK was written for an assignment that first carried `flag` at `version`.
  virtual void OnFlagAcked(const std::string& flag, uint64_t version) = 0;
  // Worker `index`'s stream ended with `status` (its last reaction).
  virtual void OnStreamEnded(int index, const grpc::Status& status) = 0;
};

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_WORKER_EVENTS_H_
