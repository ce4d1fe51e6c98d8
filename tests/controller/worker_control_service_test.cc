#include "controller/worker_control_service.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>

#include "common/controller_addresses.h"
#include "controller/fleet.h"
#include "controller/stats_aggregator.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_leadership.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::FakeLeadership;
using ::sluice::testing::ManualClock;

// The service in an in-process server on a port the kernel picks on `host`
// (server null if it could not listen there).
struct ServedService {
  ServedService(const std::string& host, absl::Duration hello_timeout)
      : service(&fleet, &stats, nullptr, auth, leadership, clock, hello_timeout) {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(host + ":0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    if (server == nullptr || port == 0) return;
    stub = v1::WorkerControl::NewStub(
        grpc::CreateChannel(host + ":" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  ~ServedService() {
    service.Shutdown();
    if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  ManualClock clock;
  Fleet fleet{clock, {absl::Seconds(10), absl::Seconds(5)}, nullptr};
  StatsAggregator stats{clock, absl::Minutes(5)};
  CallAuthorizer auth{CallAuthorizer::Options{}};
  FakeLeadership leadership;
  WorkerControlService service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::WorkerControl::Stub> stub;
};

class WorkerControlServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NE(served_.stub, nullptr); }

  ServedService served_{"127.0.0.1", absl::Milliseconds(200)};
  ManualClock& clock_ = served_.clock;
  Fleet& fleet_ = served_.fleet;
  WorkerControlService& service_ = served_.service;
  FakeLeadership& leadership_ = served_.leadership;
  std::unique_ptr<v1::WorkerControl::Stub>& stub_ = served_.stub;
};

// Waits (real time) until the service has taken the stream's Hello or opening.
void WaitForStreams(const WorkerControlService& service, size_t n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (service.stream_count() < n && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// A stream that never sent Hello held a controller thread forever. Now it holds
// none, and is ended with its reason (the synchronous API could only cancel it).
TEST_F(WorkerControlServiceTest, AStreamWithoutHelloIsEndedAfterTheHelloTimeout) {
  grpc::ClientContext ctx;
  // Far beyond the 200ms Hello timeout: only the server can end the stream in time.
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);  // opens the stream and sends nothing
  // Another one, opened at the same time, says Hello just within the timeout:
  // it is not ended.
  grpc::ClientContext in_time_ctx;
  auto in_time = stub_->Connect(&in_time_ctx);
  WaitForStreams(service_, 2);
  clock_.Advance(absl::Milliseconds(199));
  service_.CheckStreams();
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w1");
  ASSERT_TRUE(in_time->Write(hello));
  v1::ControllerMessage msg;
  ASSERT_TRUE(in_time->Read(&msg)) << "ended before its Hello timeout";
  clock_.Advance(absl::Milliseconds(2));
  service_.CheckStreams();
  EXPECT_FALSE(stream->Read(&msg));
  const grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  EXPECT_EQ(s.error_message(), "no Hello within 200ms of opening the stream");
  EXPECT_LT(std::chrono::system_clock::now(), ctx.deadline() - std::chrono::seconds(20));
  EXPECT_TRUE(fleet_.GetWorker("w1")->connected());
}

// A follower's refusal: UNAVAILABLE naming `leader`, in the message and in the
// trailing metadata clients follow.
void ExpectFollowerRefusal(const grpc::Status& s, const grpc::ClientContext& ctx,
                           const std::string& leader) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "this controller (self:7400) follows; the leader is " + leader);
  auto hint = ctx.GetServerTrailingMetadata().find(kLeaderMetadataKey);
  ASSERT_NE(hint, ctx.GetServerTrailingMetadata().end());
  EXPECT_EQ(std::string(hint->second.data(), hint->second.size()), leader);
}

// Issue 10 (replicas): a follower makes no assignment. It refuses the stream
// before any Hello, naming the leader where the worker's client can read it.
TEST_F(WorkerControlServiceTest, AFollowerRefusesStreamsNamingTheLeader) {
  leadership_.Follow("other:7400");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w1");
  stream->Write(hello);  // may fail: the stream can end before it
  ExpectFollowerRefusal(stream->Finish(), ctx, "other:7400");
  EXPECT_TRUE(fleet_.ListWorkers().empty());
}

// A replica that stops leading ends the streams it carries, naming the new leader,
// and the worker's lease starts (its pipelines stay until the new leader decides).
TEST_F(WorkerControlServiceTest, SteppingDownEndsTheStreamsNamingTheNewLeader) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w1");
  ASSERT_TRUE(stream->Write(hello));
  stream->WaitForInitialMetadata();
  ASSERT_TRUE(fleet_.GetWorker("w1")->connected());
  leadership_.Follow("next:7400");
  service_.EndStreamsOnStepDown();
  v1::ControllerMessage msg;
  while (stream->Read(&msg)) {
  }
  ExpectFollowerRefusal(stream->Finish(), ctx, "next:7400");
  EXPECT_FALSE(fleet_.GetWorker("w1")->connected());
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
  ASSERT_TRUE(stream->Write(stats));  // heard from at 10 s
  // The stats are taken on a gRPC thread: wait until the fleet has them.
  const absl::Time heard_by = absl::Now() + absl::Seconds(10);
  while (fleet_.GetWorker("w1")->last_seen().seconds() != absl::ToUnixSeconds(clock_.Now()) &&
         absl::Now() < heard_by) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  clock_.Advance(absl::Seconds(15));
  service_.CheckStreams();
  ASSERT_TRUE(fleet_.GetWorker("w1").ok());
  EXPECT_TRUE(fleet_.GetWorker("w1")->connected()) << "ended within the silence limit";
  clock_.Advance(absl::Seconds(1));
  service_.CheckStreams();
  // Disconnected when the stream is ended, before the worker hears of it.
  EXPECT_FALSE(fleet_.GetWorker("w1")->connected());
  v1::ControllerMessage msg;
  while (stream->Read(&msg)) {
  }
  const grpc::Status s = stream->Finish();
  // The worker reconnects on UNAVAILABLE; the message says why.
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(s.error_message(),
            "the controller heard nothing from worker w1 for 16s (stats are due every stats "
            "interval); its lease started");
  EXPECT_LT(std::chrono::system_clock::now(), ctx.deadline() - std::chrono::seconds(20));
}

v1::WorkerMessage HelloFrom(const std::string& id) {
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id(id);
  return hello;
}

// The callback service pushes from one thread for every stream: a pipeline
// change reaches the worker it is assigned to, and a worker whose assignment did
// not change hears nothing.
TEST_F(WorkerControlServiceTest, AChangeIsPushedToTheStreamsItConcerns) {
  grpc::ClientContext ctx1, ctx2;
  auto w1 = stub_->Connect(&ctx1);
  auto w2 = stub_->Connect(&ctx2);
  ASSERT_TRUE(w1->Write(HelloFrom("w1")));
  ASSERT_TRUE(w2->Write(HelloFrom("w2")));
  v1::ControllerMessage m1, m2;
  ASSERT_TRUE(w1->Read(&m1));  // the empty assignment each starts with
  ASSERT_TRUE(w2->Read(&m2));
  EXPECT_EQ(m1.assignment().pipelines_size(), 0);
  v1::Pipeline p;
  p.mutable_config()->set_name("orders");
  p.mutable_config()->set_desired_workers(1);
  p.set_version(1);
  fleet_.SetPipelines({p});
  const std::string owner = fleet_.PipelineStatus("orders").at(0).worker_id();
  auto& stream = owner == "w1" ? w1 : w2;
  v1::ControllerMessage pushed;
  ASSERT_TRUE(stream->Read(&pushed));
  ASSERT_EQ(pushed.assignment().pipelines_size(), 1);
  EXPECT_EQ(pushed.assignment().pipelines(0).config().name(), "orders");
  EXPECT_NE(pushed.assignment().nonce(), (owner == "w1" ? m1 : m2).assignment().nonce());
  // The other one: its stream is ended by the server without another message.
  auto& other = owner == "w1" ? w2 : w1;
  service_.Shutdown();
  v1::ControllerMessage none;
  EXPECT_FALSE(other->Read(&none));
  EXPECT_EQ(other->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(stream->Read(&none));
  EXPECT_EQ(stream->Finish().error_message(), "the controller is shutting down");
}

// Review of the replicas (issue 10): a leader whose leadership is not confirmed
// lately (a check late, its process stalled) may no longer lead, so its open
// streams push nothing; the change reaches the worker once it is confirmed again.
TEST_F(WorkerControlServiceTest, AnUnconfirmedLeaderHoldsPushesBackUntilConfirmed) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);
  ASSERT_TRUE(stream->Write(HelloFrom("w1")));
  v1::ControllerMessage first;
  ASSERT_TRUE(stream->Read(&first));  // the empty assignment
  const std::string pending = fleet_.GetWorker("w1")->pending_config_version();
  leadership_.Follow("");
  v1::Pipeline p;
  p.mutable_config()->set_name("orders");
  p.mutable_config()->set_desired_workers(1);
  p.set_version(1);
  fleet_.SetPipelines({p});
  absl::SleepFor(absl::Milliseconds(500));  // the pusher had time to push, and did not
  EXPECT_EQ(fleet_.GetWorker("w1")->pending_config_version(), pending);
  leadership_.Lead();
  v1::ControllerMessage pushed;
  ASSERT_TRUE(stream->Read(&pushed));
  ASSERT_EQ(pushed.assignment().pipelines_size(), 1);
  EXPECT_EQ(pushed.assignment().pipelines(0).config().name(), "orders");
}

// A stream opened while leading whose Hello comes after the leadership lapsed is
// refused like any follower's.
TEST_F(WorkerControlServiceTest, AHelloAfterTheLeadershipLapsedIsRefused) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = stub_->Connect(&ctx);
  WaitForStreams(service_, 1);
  leadership_.Follow("other:7400");
  stream->Write(HelloFrom("w1"));
  v1::ControllerMessage msg;
  while (stream->Read(&msg)) {
  }
  ExpectFollowerRefusal(stream->Finish(), ctx, "other:7400");
  EXPECT_TRUE(fleet_.ListWorkers().empty());
}

// A worker reconnecting over a new connection (its old one half-open) takes over
// at once: the older stream ends with ABORTED, its worker stays connected. Not
// by the periodic check: with a 10 s Hello timeout and a 15 s silence limit that
// first runs 5 s after the service starts.
TEST(WorkerControlServiceReconnectTest, ANewStreamOfTheSameWorkerEndsTheOlderOneAtOnce) {
  const absl::Time started = absl::Now();
  ServedService served("127.0.0.1", absl::Seconds(10));
  ASSERT_NE(served.stub, nullptr);
  v1::WorkerControl::Stub* stub = served.stub.get();
  grpc::ClientContext old_ctx, new_ctx;
  auto older = stub->Connect(&old_ctx);
  ASSERT_TRUE(older->Write(HelloFrom("w1")));
  v1::ControllerMessage m;
  ASSERT_TRUE(older->Read(&m));
  auto newer = stub->Connect(&new_ctx);
  ASSERT_TRUE(newer->Write(HelloFrom("w1")));
  while (older->Read(&m)) {
  }
  const grpc::Status s = older->Finish();
  EXPECT_LT(absl::Now() - started, absl::Seconds(4)) << "the periodic check may have ended it";
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_EQ(s.error_message(), "a newer stream of worker w1 replaced this one");
  EXPECT_TRUE(served.fleet.GetWorker("w1")->connected());
  ASSERT_TRUE(newer->Read(&m)) << "the newer stream is served";
}

// gRPC writes an IPv6 peer as "ipv6:%5B::1%5D:PORT"; the loopback check read only
// "[::1]", so local callers over IPv6 were refused by a controller without tokens.
TEST(WorkerControlServiceLoopbackTest, ALocalCallerOverIpv6IsAccepted) {
  ServedService served("[::1]", absl::Seconds(5));
  if (served.stub == nullptr) GTEST_SKIP() << "no IPv6 loopback here";
  v1::WorkerControl::Stub* stub = served.stub.get();
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
}

}  // namespace
}  // namespace sluice::controller
