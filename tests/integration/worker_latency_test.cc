// (f) Latency: a lone message is committed within consumer-timeout + 200 ms.
// Its own target, run exclusively, so other tests do not compete for the CPU.
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/worker_test_base.h"

namespace sluice::testing {
namespace {

using WorkerLatencyTest = WorkerExactlyOnceTest;

TEST_F(WorkerLatencyTest, LoneMessageCommittedWithinConsumerTimeout) {
  auto worker = StartWorker("worker-f");
  ASSERT_NE(worker, nullptr);
  ASSERT_TRUE(WaitFor([&] { return worker->HttpGet("/ready") == "200 ready\n"; },
                      absl::Seconds(60)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(kafka_->Produce("items", Items(i, 1)).ok());
    const absl::Time produced = absl::Now();
    ASSERT_TRUE(WaitFor([&] { return Landed() == i + 1; }, absl::Seconds(10),
                        absl::Milliseconds(2)));
    const absl::Duration latency = absl::Now() - produced;
    EXPECT_LT(latency, absl::Milliseconds(150 + 200)) << "message " << i;
  }
  EXPECT_GE(worker->Metric("sluice_batches_total{pipeline=\"it-group\",reason=\"timeout\"}"), 3);
}

}  // namespace
}  // namespace sluice::testing
