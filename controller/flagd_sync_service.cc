#include "controller/flagd_sync_service.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "flags/flagd_configuration.h"

namespace sluice::controller {

grpc::Status FlagdSyncService::Stale() const {
  if (!fresh_) return grpc::Status::OK;
  const absl::Status fresh = fresh_();
  if (fresh.ok()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                      absl::StrCat("this controller's flags may be stale: ", fresh.message()));
}

void FlagdSyncService::Shutdown() {
  shutting_down_ = true;
  fleet_->Notify();
}

grpc::Status FlagdSyncService::SyncFlags(
    grpc::ServerContext* ctx, const ::flagd::sync::v1::SyncFlagsRequest*,
    grpc::ServerWriter<::flagd::sync::v1::SyncFlagsResponse>* writer) {
  // Selectors (the flagd-selector header) name flag sources; Sluice has one.
  ++open_streams_;
  struct Closed {
    std::atomic<int>* n;
    ~Closed() { --*n; }
  } closed{&open_streams_};
  std::optional<uint64_t> sent_revision;
  std::string sent;
  uint64_t seen = fleet_->generation();
  while (!ctx->IsCancelled() && !shutting_down_) {
    if (grpc::Status stale = Stale(); !stale.ok()) return stale;
    const v1::FlagSnapshot snapshot = fleet_->FlagSnapshot();
    // The horizon moves without the flags changing: compile only on a new revision.
    if (snapshot.revision() != sent_revision) {
      ::flagd::sync::v1::SyncFlagsResponse resp;
      resp.set_flag_configuration(flags::FlagdConfiguration(snapshot));
      if (resp.flag_configuration() != sent) {
        if (!writer->Write(resp)) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
        sent = resp.flag_configuration();
      }
      sent_revision = snapshot.revision();
    }
    seen = fleet_->WaitForChange(seen, fleet_->stream_recheck_interval());
  }
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the controller is shutting down");
}

grpc::Status FlagdSyncService::FetchAllFlags(grpc::ServerContext*,
                                             const ::flagd::sync::v1::FetchAllFlagsRequest*,
                                             ::flagd::sync::v1::FetchAllFlagsResponse* resp) {
  if (grpc::Status stale = Stale(); !stale.ok()) return stale;
  resp->set_flag_configuration(flags::FlagdConfiguration(fleet_->FlagSnapshot()));
  return grpc::Status::OK;
}

}  // namespace sluice::controller
