// (f) Latency: a lone message is committed within consumer-timeout + 200 ms.
// Its own target, run exclusively, so other tests do not compete for the CPU.
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/integration/worker_test_base.h"

namespace sluice::testing {
namespace {

using WorkerLatencyTest = WorkerExactlyOnceTest;

TEST_F(WorkerLatencyTest, LoneMessageCommittedWithinConsumerTimeout) {
  // The dev broker holds an empty fetch for the whole fetch.wait.max.ms (500 ms
  // by default) even when data arrives meanwhile; a real broker answers at once.
  auto worker = StartWorker("worker-f", {"--kafka-property", "fetch.wait.max.ms=50"});
  ASSERT_NE(worker, nullptr);
  ASSERT_TRUE(WaitFor([&] { return worker->HttpGet("/ready") == "200 ready\n"; },
                      absl::Seconds(60)));
  // Steady state: right after a new group's assignment the partitions' explicit
  // start positions are still being resolved (a ListOffsets round trip, retried
  // by librdkafka on the dev broker), which can hold the very first message
  // ~0.4 s longer. Let one message through first.
  ASSERT_TRUE(kafka_->Produce("items", Items(100, 1)).ok());
  ASSERT_TRUE(WaitFor([&] { return TablesExist() && Landed() == 1; }, absl::Seconds(10)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(kafka_->Produce("items", Items(i, 1)).ok());
    const absl::Time produced = absl::Now();
    ASSERT_TRUE(WaitFor([&] { return Landed() == i + 2; }, absl::Seconds(10),
                        absl::Milliseconds(2)));
    const absl::Duration latency = absl::Now() - produced;
    EXPECT_LT(latency, absl::Milliseconds(150 + 200)) << "message " << i;
  }
  // The loop hears of a commit from the writer's thread right away (a wake, not
  // its next poll), so the metric follows the row closely.
  EXPECT_TRUE(WaitFor(
      [&] {
        return worker->Metric("sluice_batches_total{pipeline=\"it-group\",reason=\"timeout\"}") >=
               4;
      },
      absl::Milliseconds(500), absl::Milliseconds(2)));
}

}  // namespace
}  // namespace sluice::testing
