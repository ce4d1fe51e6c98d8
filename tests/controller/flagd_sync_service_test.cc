// Issue 13: the flagd sync stream (flagd.sync.v1.SyncFlags) as a provider sees
// it, over a real gRPC server: the whole configuration at once, again on every
// flag change, and an UNAVAILABLE end (never OK) when the controller stops or its
// flags go stale, so the stock providers reconnect.
#include "controller/flagd_sync_service.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "flagd/sync/v1/sync.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::flagd::sync::v1::FlagSyncService;
using ::flagd::sync::v1::SyncFlagsRequest;
using ::flagd::sync::v1::SyncFlagsResponse;
using ::sluice::testing::ManualClock;

v1::Flag Flag(const std::string& name, uint64_t version) {
  v1::Flag f;
  f.set_name(name);
  f.set_salt(name);
  f.set_version(version);
  return f;
}

class FlagdSyncServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fleet_.SetFlags({Flag("a", 1)});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port_, 0);
    stub_ = FlagSyncService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    service_.Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  absl::Status Fresh() {
    absl::MutexLock lock(&mu_);
    return fresh_;
  }

  ManualClock clock_;
  Fleet fleet_{clock_, {}, nullptr};
  absl::Mutex mu_;
  absl::Status fresh_ ABSL_GUARDED_BY(mu_) = absl::OkStatus();
  FlagdSyncService service_{&fleet_, [this] { return Fresh(); }};
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<FlagSyncService::Stub> stub_;
};

TEST_F(FlagdSyncServiceTest, SendsEverythingAtOnceAndAgainOnEveryChange) {
  grpc::ClientContext ctx;
  auto stream = stub_->SyncFlags(&ctx, SyncFlagsRequest());
  SyncFlagsResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_TRUE(absl::StrContains(resp.flag_configuration(), R"("a":{"state":"ENABLED")"))
      << resp.flag_configuration();
  EXPECT_EQ(service_.open_streams(), 1);
  fleet_.SetFlags({Flag("a", 2), Flag("b", 1)});
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_TRUE(absl::StrContains(resp.flag_configuration(), R"("b":{"state":"ENABLED")"));
  EXPECT_TRUE(absl::StrContains(resp.flag_configuration(), R"("sluiceRevision":3)"));
  // The controller stops: UNAVAILABLE, which the providers retry (an OK end they
  // would not).
  service_.Shutdown();
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(service_.open_streams(), 0);
}

TEST_F(FlagdSyncServiceTest, StaleFlagsEndTheStreamAndRefuseNewOnes) {
  grpc::ClientContext ctx;
  auto stream = stub_->SyncFlags(&ctx, SyncFlagsRequest());
  SyncFlagsResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  {
    absl::MutexLock lock(&mu_);
    fresh_ = absl::UnavailableError("controller state may be stale since ...");
  }
  fleet_.Notify();
  EXPECT_FALSE(stream->Read(&resp));
  const grpc::Status ended = stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(ended.error_message(), "may be stale")) << ended.error_message();
  grpc::ClientContext fetch_ctx;
  ::flagd::sync::v1::FetchAllFlagsResponse all;
  EXPECT_EQ(stub_->FetchAllFlags(&fetch_ctx, {}, &all).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace sluice::controller
