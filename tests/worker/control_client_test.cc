#include "worker/control_client.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

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
  std::thread run([&] { client.Run(stop); });
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

}  // namespace
}  // namespace sluice::worker
