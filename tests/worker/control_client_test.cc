#include "worker/control_client.h"

#include <grpcpp/grpcpp.h>

#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "sluice/v1/control.grpc.pb.h"

namespace sluice::worker {
namespace {

// Each TakeStats() is one interval: 1 row for "a" and 2 for "b".
class CountingHandler : public AssignmentHandler {
 public:
  std::vector<v1::PipelineError> Apply(const v1::Assignment&) override { return {}; }
  void ExtendScheduleHorizon(const v1::ScheduleHorizon&) override {}
  std::vector<v1::PipelineStats> TakeStats() override {
    std::vector<v1::PipelineStats> out;
    for (const auto& [name, rows] : {std::pair<const char*, uint64_t>{"a", 1}, {"b", 2}}) {
      v1::PipelineStats s;
      s.set_pipeline(name);
      s.set_pipeline_version(1);
      v1::PartitionStats* p = s.add_partitions();
      p->set_topic("t");
      p->set_rows(rows);
      out.push_back(s);
    }
    absl::MutexLock lock(&mu_);
    ++takes_;
    return out;
  }
  int takes() {
    absl::MutexLock lock(&mu_);
    return takes_;
  }
  bool WaitForTakes(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return takes_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  absl::Mutex mu_;
  int takes_ ABSL_GUARDED_BY(mu_) = 0;
};

// Regression: while the controller was unreachable the pipelines' deltas were
// never taken, so their latency and freshness samples grew with every batch.
TEST(ControlClientTest, StatsFoldIntoOneEntryPerPipelineWhileTheControllerIsUnreachable) {
  CountingHandler handler;
  ControlClientConfig config;
  // Nothing listens at a socket path in a directory that does not exist.
  config.controller.address =
      absl::StrCat("unix:", ::testing::TempDir(), "/no-such-dir/controller.sock");
  config.hello.set_worker_id("w1");
  config.backoff_initial = absl::Milliseconds(1);
  config.backoff_max = absl::Milliseconds(5);
  config.default_stats_interval = absl::Milliseconds(1);
  ControlClient client(config, &handler);
  std::atomic<bool> stop{false};
  std::thread run([&] { client.Run(stop).IgnoreError(); });
  const int kIntervals = 200;
  const bool reached = handler.WaitForTakes(kIntervals, absl::Seconds(30));
  stop = true;
  run.join();
  ASSERT_TRUE(reached);
  EXPECT_FALSE(client.connected());
  const int takes = handler.takes();
  const std::vector<v1::PipelineStats> pending = client.pending_stats();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].pipeline(), "a");
  EXPECT_EQ(pending[0].partitions(0).rows(), static_cast<uint64_t>(takes));
  EXPECT_EQ(pending[1].pipeline(), "b");
  EXPECT_EQ(pending[1].partitions(0).rows(), 2u * takes);
}

// A controller that assigns a stats interval and notes when the first report
// arrives.
class IntervalController final : public v1::WorkerControl::Service {
 public:
  explicit IntervalController(absl::Duration interval) : interval_(interval) {}
  grpc::Status Connect(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::ControllerMessage, v1::WorkerMessage>* stream) override {
    v1::WorkerMessage in;
    if (!stream->Read(&in) || !in.has_hello()) return grpc::Status::CANCELLED;
    // What a Sluice controller sends once it has taken the Hello.
    ctx->AddInitialMetadata("x-sluice-controller", "test");
    stream->SendInitialMetadata();
    v1::ControllerMessage out;
    out.mutable_assignment()->set_config_version("v1");
    out.mutable_assignment()->set_nonce("1");
    out.mutable_assignment()->mutable_stats_interval()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(interval_)));
    const absl::Time assigned = absl::Now();
    if (!stream->Write(out)) return grpc::Status::CANCELLED;
    while (!ctx->IsCancelled() && stream->Read(&in)) {
      if (!in.has_stats()) continue;
      absl::MutexLock lock(&mu_);
      if (!first_stats_after_) first_stats_after_ = absl::Now() - assigned;
    }
    return grpc::Status::OK;
  }
  std::optional<absl::Duration> WaitForFirstStats(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto got = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return first_stats_after_.has_value(); };
    mu_.AwaitWithTimeout(absl::Condition(&got), timeout);
    return first_stats_after_;
  }

 private:
  const absl::Duration interval_;
  absl::Mutex mu_;
  std::optional<absl::Duration> first_stats_after_ ABSL_GUARDED_BY(mu_);
};

// Found by running the demo: the first report was due a default interval (5 s)
// after start even when the assignment asked for 1 s, and a controller whose
// silence limit is 3 intervals ended every new worker's stream after 3 s. An
// assigned interval shorter than the wait left applies at once.
TEST(ControlClientTest, TheAssignedStatsIntervalAppliesToTheFirstReport) {
  IntervalController controller(absl::Milliseconds(200));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&controller);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  CountingHandler handler;
  ControlClientConfig config;
  config.controller.address = absl::StrCat("127.0.0.1:", port);
  config.hello.set_worker_id("w1");
  config.default_stats_interval = absl::Seconds(30);
  ControlClient client(config, &handler);
  std::atomic<bool> stop{false};
  std::thread run([&] { client.Run(stop).IgnoreError(); });
  // Well within the 30 s default; a loaded machine still makes it in seconds.
  const std::optional<absl::Duration> first = controller.WaitForFirstStats(absl::Seconds(20));
  stop = true;
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  run.join();
  ASSERT_TRUE(first.has_value()) << "no stats report within 20 s of an assigned 200 ms interval";
  EXPECT_LT(*first, absl::Seconds(10));
}

}  // namespace
}  // namespace sluice::worker
