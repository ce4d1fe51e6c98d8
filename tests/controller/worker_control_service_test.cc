#include "controller/worker_control_service.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>

#include "controller/fleet.h"
#include "controller/stats_aggregator.h"
#include "gtest/gtest.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::ManualClock;

// The service in an in-process server on a loopback port the kernel picks.
class WorkerControlServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = v1::WorkerControl::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    service_.Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  ManualClock clock_;
  Fleet fleet_{clock_, {absl::Seconds(10), absl::Seconds(5)}, nullptr};
  StatsAggregator stats_{clock_, absl::Minutes(5)};
  CallAuthorizer auth_{CallAuthorizer::Options{}};
  WorkerControlService service_{&fleet_, &stats_, nullptr, auth_, absl::Milliseconds(200)};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::WorkerControl::Stub> stub_;
};

// A stream that never sent Hello held a controller thread forever.
TEST_F(WorkerControlServiceTest, AStreamWithoutHelloIsEndedAfterTheHelloTimeout) {
  grpc::ClientContext ctx;
  // Far beyond the 200ms Hello timeout: only the server can end the stream in time.
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);  // opens the stream and sends nothing
  v1::ControllerMessage msg;
  EXPECT_FALSE(stream->Read(&msg));
  const grpc::Status s = stream->Finish();
  // The sync server can only cancel a pending Read; the cancel is what the client sees.
  EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED) << s.error_message();
  EXPECT_EQ(s.error_message(), "Cancelled on the server side");
  EXPECT_LT(std::chrono::system_clock::now(), ctx.deadline() - std::chrono::seconds(20));
}

TEST_F(WorkerControlServiceTest, AFirstMessageThatIsNotHelloIsRefused) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);
  v1::WorkerMessage stats;
  stats.mutable_stats();
  ASSERT_TRUE(stream->Write(stats));
  const grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "the first message must be a Hello with a worker_id");
}

// Admin requests name workers by id (get, drain) within common/admin_limits.h, so
// a worker whose id is longer could never be addressed.
TEST_F(WorkerControlServiceTest, AHelloWithAnOversizedWorkerIdIsRefused) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id(std::string(64, 'w'));
  ASSERT_TRUE(stream->Write(hello));
  const grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "hello.worker_id: must be at most 63 bytes (got 64)");
  EXPECT_TRUE(fleet_.ListWorkers().empty());
}

// Issue 10: a worker that said Hello and then nothing (a hung process, a host gone
// without closing the connection) kept its stream, and so its pipelines. After the
// silence limit (3 stats intervals: 15 s here) the controller ends the stream, and
// the worker's lease starts.
TEST_F(WorkerControlServiceTest, AWorkerSilentForTheSilenceLimitIsEnded) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w1");
  ASSERT_TRUE(stream->Write(hello));
  stream->WaitForInitialMetadata();
  clock_.Advance(absl::Seconds(10));
  v1::WorkerMessage stats;
  stats.mutable_stats();
  ASSERT_TRUE(stream->Write(stats));         // heard from at 10 s
  absl::SleepFor(absl::Milliseconds(1500));  // the service looks every second
  clock_.Advance(absl::Seconds(15));
  absl::SleepFor(absl::Milliseconds(1500));
  ASSERT_TRUE(fleet_.GetWorker("w1").ok());
  EXPECT_TRUE(fleet_.GetWorker("w1")->connected()) << "ended within the silence limit";
  clock_.Advance(absl::Seconds(1));
  v1::ControllerMessage msg;
  while (stream->Read(&msg)) {
  }
  const grpc::Status s = stream->Finish();
  // As for a late Hello: the sync server unblocks its reader by cancelling the
  // call, so the worker sees CANCELLED (and reconnects); the log says why.
  EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED) << s.error_message();
  // The client may see the end before the service has recorded the disconnect.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (fleet_.GetWorker("w1")->connected() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_FALSE(fleet_.GetWorker("w1")->connected());
  EXPECT_LT(std::chrono::system_clock::now(), ctx.deadline() - std::chrono::seconds(20));
}

// gRPC writes an IPv6 peer as "ipv6:%5B::1%5D:PORT"; the loopback check read only
// "[::1]", so local callers over IPv6 were refused by a controller without tokens.
TEST(WorkerControlServiceLoopbackTest, ALocalCallerOverIpv6IsAccepted) {
  ManualClock clock;
  Fleet fleet{clock, {absl::Seconds(10), absl::Seconds(5)}, nullptr};
  StatsAggregator stats{clock, absl::Minutes(5)};
  CallAuthorizer auth{CallAuthorizer::Options{}};
  WorkerControlService service{&fleet, &stats, nullptr, auth, absl::Seconds(5)};
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("[::1]:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) GTEST_SKIP() << "no IPv6 loopback here";
  auto stub = v1::WorkerControl::NewStub(grpc::CreateChannel(
      "[::1]:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->Connect(&ctx);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w6");
  ASSERT_TRUE(stream->Write(hello));
  stream->WaitForInitialMetadata();
  EXPECT_EQ(ctx.GetServerInitialMetadata().count("x-sluice-controller"), 1u);
  ctx.TryCancel();
  const grpc::Status s = stream->Finish();
  EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  service.Shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

}  // namespace
}  // namespace sluice::controller
