// OpenFeature flagd's sync protocol (flagd.sync.v1.FlagSyncService, vendored in
// proto/flagd): stock flagd providers in in-process mode receive every Sluice
// flag compiled to flagd's flag-configuration JSON (flags/flagd_configuration.h)
// and evaluate rollout decisions themselves, the same as the workers.
#ifndef SLUICE_CONTROLLER_FLAGD_SYNC_SERVICE_H_
#define SLUICE_CONTROLLER_FLAGD_SYNC_SERVICE_H_

#include <atomic>
#include <functional>

#include "controller/fleet.h"
#include "flagd/sync/v1/sync.grpc.pb.h"

namespace sluice::controller {

// Read-only, and served without tokens: the stock providers can send neither a
// token nor (the JavaScript one) a client certificate. main() therefore serves it
// on a listener of its own that is loopback-only or mutual TLS
// (--flagd-sync-address; docs/OPENFEATURE.md). Every replica serves it from the
// flags it holds (a follower polls the stored state every 5 s).
class FlagdSyncService final : public ::flagd::sync::v1::FlagSyncService::Service {
 public:
  // `fresh`: OK while the flags held are current enough to serve (main: the stored
  // state readable within half a flag lead). Otherwise a stream ends UNAVAILABLE:
  // the provider keeps its copy, reconnects, and says it is stale.
  FlagdSyncService(Fleet* fleet, std::function<absl::Status()> fresh)
      : fleet_(fleet), fresh_(std::move(fresh)) {}

  // Sends the whole configuration at once (a provider is ready on its first
  // message) and again whenever it changes. The stream never ends OK: the
  // JavaScript provider reconnects only after an error, so a shutdown ends it
  // UNAVAILABLE.
  grpc::Status SyncFlags(grpc::ServerContext* ctx, const ::flagd::sync::v1::SyncFlagsRequest* req,
                         grpc::ServerWriter<::flagd::sync::v1::SyncFlagsResponse>* writer) override;
  grpc::Status FetchAllFlags(grpc::ServerContext* ctx,
                             const ::flagd::sync::v1::FetchAllFlagsRequest* req,
                             ::flagd::sync::v1::FetchAllFlagsResponse* resp) override;

  // Ends every open stream soon (UNAVAILABLE).
  void Shutdown();
  // SyncFlags streams open now.
  int open_streams() const { return open_streams_; }

 private:
  // UNAVAILABLE while `fresh_` says the flags may be stale; OK otherwise.
  grpc::Status Stale() const;

  Fleet* fleet_;
  std::function<absl::Status()> fresh_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<int> open_streams_{0};
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_FLAGD_SYNC_SERVICE_H_
