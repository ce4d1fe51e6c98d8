// The ingest loop against fakes: flush reasons, retries, revokes, fencing.
#include "worker/ingest_loop.h"

#include <atomic>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "tests/fakes/fake_batch_sink.h"
#include "tests/fakes/fake_message_source.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::worker {
namespace {

using ::sluice::testing::FakeBatchSink;
using ::sluice::testing::FakeMessageSource;
using ::sluice::testing::ManualClock;

const TopicPartition kP0{"items", 0};
const TopicPartition kP1{"items", 1};

Message Msg(const TopicPartition& tp, int64_t offset) {
  return Message{tp.topic, tp.partition, offset, std::nullopt, std::string("{}"), std::nullopt};
}

std::vector<Message> Msgs(const TopicPartition& tp, int64_t first, int n) {
  std::vector<Message> out;
  for (int i = 0; i < n; ++i) out.push_back(Msg(tp, first + i));
  return out;
}

class IngestLoopTest : public ::testing::Test {
 protected:
  IngestLoopTest() : metrics_(registry_, "test") {
    config_.topics = {"items"};
    config_.limits = {3, 1 << 20, absl::Milliseconds(150)};
    config_.retry_initial = absl::Microseconds(10);
    config_.retry_max = absl::Microseconds(100);
    source_.OnExhausted([this] { stop_ = true; });
  }

  // First poll: the group assigns both partitions.
  void Assign() {
    source_.AddStep({[](RebalanceHandler* h) { h->OnPartitionsAssigned({kP0, kP1}); }, {}});
  }

  absl::Status Run() {
    IngestLoop loop({&source_, &sink_, &clock_, &metrics_}, config_);
    return loop.Run(stop_);
  }

  std::vector<FlushReason> Reasons() const {
    std::vector<FlushReason> out;
    for (const Batch& b : sink_.written()) out.push_back(b.reason);
    return out;
  }

  prometheus::Registry registry_;
  WorkerMetrics metrics_;
  IngestLoopConfig config_;
  ManualClock clock_;
  FakeMessageSource source_;
  FakeBatchSink sink_;
  std::atomic<bool> stop_{false};
};

TEST_F(IngestLoopTest, FlushesOnRowsAndAtShutdown) {
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 0, 7)});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Reasons(), (std::vector<FlushReason>{::sluice::v1::FLUSH_REASON_ROWS,
                                                 ::sluice::v1::FLUSH_REASON_ROWS,
                                                 ::sluice::v1::FLUSH_REASON_SHUTDOWN}));
  // Kafka hears of each committed batch, in order.
  ASSERT_EQ(source_.commits().size(), 3u);
  EXPECT_EQ(source_.commits()[0].at(kP0), 3);
  EXPECT_EQ(source_.commits()[2].at(kP0), 7);
  EXPECT_TRUE(source_.closed());
}

TEST_F(IngestLoopTest, FlushesOnConsumerTimeout) {
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 0, 1)});
  source_.AddStep({[this](RebalanceHandler*) { clock_.Advance(absl::Milliseconds(149)); }, {}});
  source_.AddStep({[this](RebalanceHandler*) {
                     EXPECT_TRUE(sink_.written().empty());
                     clock_.Advance(absl::Milliseconds(1));
                   },
                   {}});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Reasons(), (std::vector<FlushReason>{::sluice::v1::FLUSH_REASON_TIMEOUT}));
  // The poll after the first message waits no longer than the batch's deadline.
  ASSERT_GE(source_.polls().size(), 3u);
  EXPECT_LE(source_.polls()[2], absl::Milliseconds(150));
}

TEST_F(IngestLoopTest, FlushesOnRevokeAndReleasesThePartitions) {
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 0, 2)});
  source_.AddStep({[](RebalanceHandler* h) { h->OnPartitionsRevoked({kP0}, false); }, {}});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Reasons(), (std::vector<FlushReason>{::sluice::v1::FLUSH_REASON_REVOKE}));
  EXPECT_EQ(sink_.released(), (std::vector<TopicPartition>{kP0}));
}

TEST_F(IngestLoopTest, RetriesTransientErrorsWithTheSameBatch) {
  Assign();
  sink_.FailNextWrites({absl::UnavailableError("connection lost"),
                        absl::UnavailableError("connection refused")});
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.attempts(), 3);
  ASSERT_EQ(sink_.written().size(), 1u);
  EXPECT_EQ(sink_.written()[0].messages.size(), 3u);
  EXPECT_EQ(source_.commits().size(), 1u);
}

TEST_F(IngestLoopTest, FencedBatchIsDroppedAndTheRestRewound) {
  Assign();
  sink_.FailNextWrites({absl::AbortedError("fenced: items/0")});
  sink_.SetFencedPartitions({kP0});
  std::vector<Message> batch = Msgs(kP0, 10, 1);
  batch.push_back(Msg(kP1, 20));
  batch.push_back(Msg(kP1, 21));
  source_.AddStep({nullptr, batch});
  ASSERT_TRUE(Run().ok());
  EXPECT_TRUE(sink_.written().empty());
  EXPECT_EQ(sink_.attempts(), 1);  // never retried
  EXPECT_EQ(source_.paused(), (std::vector<TopicPartition>{kP0}));
  ASSERT_EQ(source_.seeks().size(), 1u);
  EXPECT_EQ(source_.seeks()[0], (OffsetMap{{kP1, 20}}));
  EXPECT_TRUE(source_.commits().empty());
}

// Regression: after a fence in the middle of a poll, the rest of that poll's
// messages of the batch's partitions must not reach the next batch (the fenced
// partition is no longer ours; the others are read again from the rewind point).
TEST_F(IngestLoopTest, RestOfThePollIsDroppedAfterAFence) {
  Assign();
  sink_.FailNextWrites({absl::AbortedError("fenced: items/0")});
  sink_.SetFencedPartitions({kP0});
  // kP1:21 continues the run of kP1:20, whose flush was fenced: it must be dropped
  // even though its partition did not change.
  std::vector<Message> poll = {Msg(kP0, 10), Msg(kP0, 11), Msg(kP1, 20),  // fills the batch
                               Msg(kP1, 21), Msg(kP0, 12)};               // same poll, after it
  source_.AddStep({nullptr, poll});
  // The re-read of kP1 after the seek.
  source_.AddStep({nullptr, Msgs(kP1, 20, 2)});
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(sink_.written().size(), 1u);
  const Batch& b = sink_.written()[0];
  ASSERT_EQ(b.messages.size(), 2u);
  EXPECT_EQ(b.messages[0].offset, 20);
  EXPECT_EQ(b.messages[1].offset, 21);
  EXPECT_EQ(b.next_offsets, (OffsetMap{{kP1, 22}}));
}

TEST_F(IngestLoopTest, AssignmentStartsAtTheStoredOffsets) {
  sink_.SetStored({{kP0, 42}});
  OffsetMap start;
  source_.AddStep({[&](RebalanceHandler* h) { start = h->OnPartitionsAssigned({kP0, kP1}); }, {}});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(start, (OffsetMap{{kP0, 42}}));  // kP1 has none: auto.offset.reset decides
}

TEST_F(IngestLoopTest, ShutdownGivesUpAfterTheTimeoutWithoutCommitting) {
  config_.shutdown_timeout = absl::ZeroDuration();
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 0, 1)});
  sink_.FailNextWrites({absl::UnavailableError("down")});
  absl::Status s = Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(sink_.written().empty());
  EXPECT_TRUE(source_.commits().empty());
}

}  // namespace
}  // namespace sluice::worker
