// An embeddable client that keeps a local, always-current copy of the flags (via
// Flags.Watch) and evaluates locally, so a producer or the legacy ingestion path
// makes the same decision as the workers without a call per item.
#ifndef SLUICE_FLAGS_FLAG_CLIENT_H_
#define SLUICE_FLAGS_FLAG_CLIENT_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/controller_addresses.h"
#include "common/controller_channel.h"
#include "flags/flag_schedule.h"

namespace grpc {
class Channel;
class ClientContext;
}

namespace sluice::flags {

// Thread-safe. Watches in a background thread and reconnects with jittered
// backoff; while the controller is unreachable it keeps evaluating with the last
// schedules it received, but only items up to the horizon the controller last
// confirmed (changes take effect at least the propagation lead after they are
// made, so the horizon runs about a lead ahead of the last contact).
class FlagClient {
 public:
  // The controller's address (or its replicas', comma-separated: the watch
  // follows the leader among them), token and TLS files
  // (common/controller_channel.h). INVALID_ARGUMENT if a TLS file cannot be read.
  static absl::StatusOr<std::unique_ptr<FlagClient>> Create(ControllerConnection controller);
  ~FlagClient();

  // True once the first snapshot has arrived (waits up to `timeout`).
  bool WaitForSnapshot(absl::Duration timeout) const;
  // The decision for an item with routing key `key` (see routing_key.h) and Kafka
  // timestamp `at` (nullopt for an item without one: the legacy path, as
  // FlagSchedule::EvaluateItem says). NOT_FOUND for an unknown flag; UNAVAILABLE
  // before the first snapshot (with the watch's last error, e.g. a refused token),
  // and for an `at` beyond known_until(): a change not received yet may apply to
  // it, so the caller retries (the controller moves the horizon several times per
  // propagation lead; it stops only while the controller is unreachable).
  absl::StatusOr<Evaluation> Evaluate(const std::string& flag, absl::string_view key,
                                      std::optional<absl::Time> at) const;
  // Revision of the flag set held (0 before the first snapshot).
  uint64_t revision() const;
  // The schedules held are complete up to this time (the controller's horizon;
  // InfinitePast before the first).
  absl::Time known_until() const;

 private:
  FlagClient(ControllerConnection controller, ControllerAddresses addresses,
             std::map<std::string, std::shared_ptr<grpc::Channel>> channels);
  void Run();

  const ControllerConnection controller_;
  // Used by the watch thread only.
  ControllerAddresses addresses_;
  // By address (used by the watch thread only).
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const FlagSchedule>> flags_ ABSL_GUARDED_BY(mu_);
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  bool have_snapshot_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time known_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // How the last watch ended, if it failed.
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace sluice::flags

#endif  // SLUICE_FLAGS_FLAG_CLIENT_H_
