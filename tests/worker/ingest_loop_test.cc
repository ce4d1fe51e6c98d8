// The ingest loop against fakes: flush reasons, retries, revokes, fencing, the
// offset source of truth and the error rule.
#include "worker/ingest_loop.h"

#include <atomic>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "tests/fakes/fake_batch_sink.h"
#include "tests/fakes/fake_message_source.h"
#include "tests/fakes/manual_batch_writer.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::worker {
namespace {

using ::sluice::testing::FakeBatchSink;
using ::sluice::testing::FakeMessageSource;
using ::sluice::testing::ManualBatchWriter;
using ::sluice::testing::ManualClock;

const TopicPartition kP0{"items", 0};
const TopicPartition kP1{"items", 1};

Message Msg(const TopicPartition& tp, int64_t offset) {
  Message m;
  m.topic = tp.topic;
  m.partition = tp.partition;
  m.offset = offset;
  m.payload = "{}";
  return m;
}

std::vector<Message> Msgs(const TopicPartition& tp, int64_t first, int n) {
  std::vector<Message> out;
  for (int i = 0; i < n; ++i) out.push_back(Msg(tp, first + i));
  return out;
}

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> out;
  for (int64_t o = first; o <= last; ++o) out.push_back(o);
  return out;
}

class IngestLoopTest : public ::testing::Test {
 protected:
  IngestLoopTest() : metrics_(registry_, "test", "test-group") {
    config_.topics = {"items"};
    config_.limits = {3, 1 << 20, absl::Milliseconds(150)};
    config_.retry_initial = absl::Milliseconds(100);
    config_.retry_max = absl::Seconds(10);
    source_.OnExhausted([this] { stop_ = true; });
  }

  // First poll: the group assigns both partitions.
  void Assign() {
    source_.AddStep({[this](RebalanceHandler*) { source_.Assign({kP0, kP1}); }, {}});
  }

  absl::Status Run() {
    loop_ = std::make_unique<IngestLoop>(
        IngestLoopDeps{&source_, &sink_, {&writer_}, &clock_, &metrics_}, config_);
    return loop_->Run(stop_);
  }

  std::vector<FlushReason> Reasons() const {
    std::vector<FlushReason> out;
    for (const Batch& b : sink_.written()) out.push_back(b.reason);
    return out;
  }

  std::string Metrics() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }

  prometheus::Registry registry_;
  WorkerMetrics metrics_;
  IngestLoopConfig config_;
  ManualClock clock_;
  FakeMessageSource source_;
  FakeBatchSink sink_;
  ManualBatchWriter writer_{&sink_, &clock_};
  std::unique_ptr<IngestLoop> loop_;
  std::atomic<bool> stop_{false};
};

TEST_F(IngestLoopTest, FlushesOnRowsAndAtShutdown) {
  sink_.SetStored(kP0, 0);
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
  EXPECT_EQ(sink_.stored().at(kP0), 7);
  EXPECT_TRUE(source_.closed());
}

// Issue 12: the lag counts messages not yet committed to PostgreSQL (high
// watermark less the next offset committed), and its age is that of the oldest
// such message the loop holds; once none waits it is 0.
TEST_F(IngestLoopTest, LagIsCountedAgainstPostgresAndAgedByTheOldestWaitingMessage) {
  config_.limits = {100, 1 << 20, absl::Seconds(30)};
  sink_.SetStored(kP0, 0);
  sink_.SetStored(kP1, 5);
  Assign();
  std::vector<Message> first = Msgs(kP0, 0, 2);
  for (Message& m : first) m.timestamp = clock_.Now() - absl::Seconds(3);
  source_.AddStep({[this](RebalanceHandler*) {
                     source_.SetLag({{kP0, 1, 10, std::nullopt}, {kP1, 0, 5, std::nullopt}});
                   },
                   first});
  source_.AddStep({[this](RebalanceHandler*) { clock_.Advance(absl::Seconds(2)); }, {}});
  source_.AddStep({nullptr, {}});  // the loop takes the lag after this poll
  source_.AddStep({[this](RebalanceHandler*) {
                     const std::string page = Metrics();
                     // 10 - 0 waiting, the oldest produced 3 + 2 s ago; kP1 is caught up.
                     EXPECT_NE(page.find("sluice_consumer_lag_messages{partition=\"0\","
                                         "pipeline=\"test\",topic=\"items\"} 10"),
                               std::string::npos)
                         << page;
                     EXPECT_NE(page.find("sluice_consumer_lag_seconds{partition=\"0\","
                                         "pipeline=\"test\",topic=\"items\"} 5"),
                               std::string::npos)
                         << page;
                     EXPECT_NE(page.find("sluice_consumer_lag_seconds{partition=\"1\","
                                         "pipeline=\"test\",topic=\"items\"} 0"),
                               std::string::npos)
                         << page;
                   },
                   {}});
  ASSERT_TRUE(Run().ok());
}

// Issue 12: under a freshness target the loop tunes the consumer timeout from its
// committed batches: fresh batches (well under the target) lengthen it.
TEST_F(IngestLoopTest, AFreshnessTargetLengthensTheTimeoutWhileItHolds) {
  config_.limits = {1000, 1 << 20, absl::Milliseconds(150), absl::Seconds(2)};
  sink_.SetStored(kP0, 0);
  Assign();
  // One message every 100 ms, produced as it is polled.
  const absl::Time start = clock_.Now();
  for (int i = 0; i < 100; ++i) {
    Message m = Msg(kP0, i);
    m.timestamp = start + absl::Milliseconds(100) * (i + 1);
    source_.AddStep({[this](RebalanceHandler*) { clock_.Advance(absl::Milliseconds(100)); }, {m}});
  }
  ASSERT_TRUE(Run().ok());
  const std::string page = Metrics();
  const std::string series = "sluice_consumer_timeout_seconds{pipeline=\"test\"} ";
  const size_t at = page.find(series);
  ASSERT_NE(at, std::string::npos) << page;
  const double timeout = std::stod(page.substr(at + series.size()));
  EXPECT_GT(timeout, 0.3) << "batches stayed at the starting timeout";
  EXPECT_LE(timeout, 1.2);
  // Fewer, larger transactions than one per 150 ms.
  EXPECT_LT(sink_.written().size(), 40u);
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

TEST_F(IngestLoopTest, FlushesOnRevokeAndForgetsThePartitions) {
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 0, 2)});
  source_.AddStep({[](RebalanceHandler* h) { h->OnPartitionsRevoked({kP0}, false); },
                   Msgs(kP0, 2, 1)});  // fetched before the revoke: not ours any more
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Reasons(), (std::vector<FlushReason>{::sluice::v1::FLUSH_REASON_REVOKE}));
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 1));
}

TEST_F(IngestLoopTest, RetriesTransientErrorsWithTheSameBatch) {
  Assign();
  sink_.FailNextWrites(
      {absl::UnavailableError("connection lost"), absl::UnavailableError("connection refused")});
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.attempts(), 3);
  ASSERT_EQ(sink_.written().size(), 1u);
  EXPECT_EQ(sink_.written()[0].messages.size(), 3u);
  EXPECT_EQ(source_.commits().size(), 1u);
  // The waits went through the clock: no real time passed.
  EXPECT_GE(clock_.slept(), absl::Milliseconds(100));
}

// Issue 7.1: PostgreSQL is the only source of truth. With no stored row a
// partition starts explicitly at auto.offset.reset (never at Kafka's committed
// offset); a stored symbolic position (offsets reset --to-earliest) is honoured.
TEST_F(IngestLoopTest, StartsFromPostgresOrExplicitlyAtTheResetPosition) {
  sink_.SetStored(kP0, 42);
  sink_.SetStored(kP1, kOffsetBeginning);
  source_.SetStartOffset(kP1, 7);  // the log start
  Assign();
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(source_.assigned().size(), 1u);
  EXPECT_EQ(source_.assigned()[0], (OffsetMap{{kP0, 42}, {kP1, 7}}));
  EXPECT_EQ(sink_.stored().at(kP1), 7);

  const TopicPartition p2{"items", 2};
  config_.unstored_start = kOffsetEnd;
  FakeMessageSource fresh;
  fresh.OnExhausted([this] { stop_ = true; });
  fresh.AddStep({[&](RebalanceHandler*) { fresh.Assign({p2}); }, {}});
  fresh.SetEndOffset(p2, 9);
  stop_ = false;
  IngestLoop loop({&fresh, &sink_, {&writer_}, &clock_, &metrics_}, config_);
  ASSERT_TRUE(loop.Run(stop_).ok());
  // "latest" is resolved once and stored, so every later owner starts there too.
  EXPECT_EQ(fresh.assigned()[0], (OffsetMap{{p2, 9}}));
  EXPECT_EQ(sink_.stored().at(p2), 9);
}

// Review finding: "latest" was resolved again by every owner until the first
// commit, so what was produced between two owners' resolutions was skipped. The
// first claim pins it.
TEST_F(IngestLoopTest, TheLatestPositionIsPinnedWhenFirstClaimed) {
  sink_.SetStored(kP0, kOffsetEnd);  // offsets reset --to-latest
  config_.unstored_start = kOffsetEnd;
  source_.SetEndOffset(kP0, 50);
  source_.SetEndOffset(kP1, 70);
  Assign();
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(source_.assigned()[0], (OffsetMap{{kP0, 50}, {kP1, 70}}));
  EXPECT_EQ(sink_.stored(), (OffsetMap{{kP0, 50}, {kP1, 70}}));
}

// Issue 9: librdkafka 2.0.2 looks a logical start position up only after a
// 500 ms back-off when the leader is not known yet at the assignment, which
// delayed every new group's first fetch. "earliest" is resolved and stored at
// the first claim, like "latest", and the consumer gets the offset.
TEST_F(IngestLoopTest, TheEarliestPositionIsPinnedWhenFirstClaimed) {
  source_.SetStartOffset(kP0, 3);
  source_.SetStartOffset(kP1, 12);
  Assign();
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(source_.assigned()[0], (OffsetMap{{kP0, 3}, {kP1, 12}}));
  EXPECT_EQ(sink_.stored(), (OffsetMap{{kP0, 3}, {kP1, 12}}));
}

// What the broker does not resolve in time stays symbolic: librdkafka looks it
// up itself (late, but nothing is skipped), and nothing is stored.
TEST_F(IngestLoopTest, AStartPositionTheBrokerDidNotResolveIsLeftToLibrdkafka) {
  source_.SetStartOffset(kP0, 3);  // kP1: no answer
  Assign();
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(source_.assigned()[0], (OffsetMap{{kP0, 3}, {kP1, kOffsetBeginning}}));
  EXPECT_EQ(sink_.stored(), (OffsetMap{{kP0, 3}}));
  EXPECT_NE(Metrics().find("sluice_start_positions_unpinned_total{pipeline=\"test\"} 1"),
            std::string::npos)
      << Metrics();
}

TEST_F(IngestLoopTest, AReplayFromTheEarliestPositionIsWrittenAgain) {
  sink_.SetStored(kP0, kOffsetBeginning);  // offsets reset --to-earliest
  source_.SetStartOffset(kP0, 5);          // the log starts at 5 (retention)
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 5, 3)});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(5, 7));
  EXPECT_EQ(sink_.stored().at(kP0), 8);
}

// Issue 7.4: a fenced partition used to be paused and never resumed.
TEST_F(IngestLoopTest, AFencedBatchIsDroppedAndItsPartitionsClaimedAgain) {
  sink_.SetStored({{kP0, 10}, {kP1, 20}});
  Assign();
  std::vector<Message> poll = {Msg(kP0, 10), Msg(kP1, 20), Msg(kP1, 21)};
  source_.AddStep({[this](RebalanceHandler*) { sink_.SetStored(kP0, 15); },  // another writer
                   poll});
  // After the fence: the loop re-reads 15 for kP0 and 20 for kP1 and seeks there.
  source_.AddStep({nullptr, {}});
  source_.AddStep({nullptr, {Msg(kP0, 15), Msg(kP0, 16), Msg(kP0, 17)}});
  source_.AddStep({nullptr, Msgs(kP1, 20, 3)});
  ASSERT_TRUE(Run().ok());
  EXPECT_TRUE(source_.paused().empty());
  ASSERT_FALSE(source_.seeks().empty());
  EXPECT_EQ(source_.seeks()[0], (OffsetMap{{kP0, 15}, {kP1, 20}}));
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(15, 17));
  EXPECT_EQ(sink_.WrittenOffsets(kP1), Range(20, 22));
  EXPECT_EQ(sink_.stored(), (OffsetMap{{kP0, 18}, {kP1, 23}}));
}

// Regression (issue 7.2): when the revoke callback's flush was fenced inside a
// poll, the rewind of the other partitions was forgotten as soon as the poll
// returned: P1:21-23, fetched before the callback, committed next offset 24 and
// P1:20 was never written.
TEST_F(IngestLoopTest, AFenceInsideAPollKeepsTheRewind) {
  sink_.SetStored({{kP0, 10}, {kP1, 20}});
  Assign();
  source_.AddStep({nullptr, {Msg(kP0, 10), Msg(kP1, 20)}});  // open batch, 2 of 3 rows
  FakeMessageSource::Step fenced_in_poll;
  fenced_in_poll.collected_before = {Msg(kP1, 21), Msg(kP1, 22), Msg(kP1, 23)};
  fenced_in_poll.before = [this](RebalanceHandler* h) {
    sink_.SetStored(kP0, 12);  // another worker took kP0 and wrote
    h->OnPartitionsRevoked({kP0}, /*lost=*/true);
  };
  source_.AddStep(fenced_in_poll);
  source_.AddStep({nullptr, Msgs(kP1, 20, 4)});  // read again from the stored 20
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.WrittenOffsets(kP1), Range(20, 23));
  EXPECT_EQ(sink_.stored().at(kP1), 24);
  EXPECT_EQ(sink_.stored().at(kP0), 12);  // the other worker's
}

// Regression: after a fence in the middle of a poll, the rest of that poll's
// messages of the batch's partitions must not reach the next batch (they are read
// again from the stored offsets).
TEST_F(IngestLoopTest, RestOfThePollIsDroppedAfterAFence) {
  sink_.SetStored({{kP0, 10}, {kP1, 20}});
  Assign();
  std::vector<Message> poll = {Msg(kP0, 10), Msg(kP0, 11), Msg(kP1, 20),  // fills the batch
                               Msg(kP1, 21), Msg(kP0, 12)};               // same poll, after it
  source_.AddStep({[this](RebalanceHandler*) { sink_.SetStored(kP0, 30); }, poll});
  source_.AddStep({nullptr, Msgs(kP1, 20, 2)});  // the re-read of kP1 after the seek
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.WrittenOffsets(kP1), Range(20, 21));
  EXPECT_TRUE(sink_.WrittenOffsets(kP0).empty());
  EXPECT_EQ(sink_.stored().at(kP1), 22);
}

// A message that does not continue its partition's stream (fetched before a seek,
// so not the first the broker returned after it) is never batched: batching it
// would let the batch skip the offsets between the seek position and it.
TEST_F(IngestLoopTest, AMessageFromBeforeASeekIsNotBatched) {
  sink_.SetStored({{kP0, 10}});
  Assign();
  source_.AddStep({[this](RebalanceHandler*) { sink_.SetStored(kP0, 11); }, Msgs(kP0, 10, 3)});
  source_.AddStep({nullptr, {}});  // fenced: the loop claims kP0 again and seeks it to 11
  FakeMessageSource::Step stale;
  stale.stale = true;
  stale.messages = {Msg(kP0, 13)};
  source_.AddStep(stale);
  source_.AddStep({nullptr, Msgs(kP0, 11, 3)});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(source_.seeks(), (std::vector<OffsetMap>{{{kP0, 11}}}));
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(11, 13));
  EXPECT_EQ(sink_.stored().at(kP0), 14);
}

TEST_F(IngestLoopTest, TheFirstMessageAfterAnAssignMayStartAboveTheStoredOffset) {
  FakeBatchSink sink;
  sink.SetStored(kP0, 10);
  FakeMessageSource source;
  source.OnExhausted([this] { stop_ = true; });
  source.AddStep({[&](RebalanceHandler*) { source.Assign({kP0}); }, {}});
  FakeMessageSource::Step s2;
  s2.messages = {Msg(kP0, 12), Msg(kP0, 13)};  // 12 starts the stream (10, 11 compacted)
  source.AddStep(s2);
  ManualBatchWriter writer(&sink, &clock_);
  IngestLoop loop({&source, &sink, {&writer}, &clock_, &metrics_}, config_);
  ASSERT_TRUE(loop.Run(stop_).ok());
  EXPECT_EQ(sink.WrittenOffsets(kP0), (std::vector<int64_t>{12, 13}));
  EXPECT_EQ(sink.stored().at(kP0), 14);
}

// Issue 7.9: Stop was ignored while a write was retrying (15,116 attempts in 3 s
// with shutdown_timeout=0, and Run had not returned).
TEST_F(IngestLoopTest, StopIsHonouredWhileAWriteIsRetrying) {
  config_.shutdown_timeout = absl::ZeroDuration();
  Assign();
  std::vector<absl::Status> down(1000, absl::UnavailableError("connection refused"));
  sink_.FailNextWrites(down);
  sink_.OnWrite([this](int attempt) {
    if (attempt == 5) stop_ = true;  // SIGTERM arrives while retrying
  });
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});
  absl::Status s = Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(sink_.attempts(), 5);
  EXPECT_TRUE(sink_.written().empty());
  EXPECT_TRUE(source_.commits().empty());
  EXPECT_TRUE(source_.closed());
}

TEST_F(IngestLoopTest, ShutdownRetriesForTheShutdownTimeoutThenGivesUp) {
  config_.shutdown_timeout = absl::Seconds(3);
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 0, 1)});
  std::vector<absl::Status> down(1000, absl::UnavailableError("down"));
  sink_.FailNextWrites(down);
  const absl::Time start = clock_.Now();
  absl::Status s = Run();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(sink_.written().empty());
  // Retries went on for the shutdown timeout, no longer.
  EXPECT_GE(clock_.Now() - start, absl::Seconds(3));
  EXPECT_LE(clock_.Now() - start, absl::Seconds(4));
  EXPECT_LT(sink_.attempts(), 20);
}

// Issue 7.8: a transient error is retried and counted, and /ready reports it
// once it has lasted `unready_after`.
TEST_F(IngestLoopTest, ATransientErrorTurnsReadyAfterTheBoundedTime) {
  config_.unready_after = absl::Seconds(30);
  Assign();
  std::vector<absl::Status> down(12, absl::UnavailableError("connection refused"));
  sink_.FailNextWrites(down);
  std::vector<std::string> ready;
  sink_.OnWrite([&](int attempt) {
    if (attempt == 2 || attempt == 12) ready.push_back(std::string(loop_->Ready().message()));
  });
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});
  source_.AddStep({[&](RebalanceHandler*) { ready.push_back(loop_->Ready().ToString()); }, {}});
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(ready.size(), 3u);
  EXPECT_EQ(ready[0], "");  // a blip does not flip readiness
  EXPECT_TRUE(absl::StartsWith(ready[1], "failing for ")) << ready[1];
  EXPECT_TRUE(absl::EndsWith(ready[1], ": connection refused")) << ready[1];
  EXPECT_EQ(ready[2], "OK");  // written at last
  EXPECT_NE(
      Metrics().find("sluice_write_retries_total{pipeline=\"test\",reason=\"unavailable\"} 12"),
      std::string::npos);
}

// Issue 7.7/7.8: an error retrying cannot fix pauses the pipeline with the reason.
TEST_F(IngestLoopTest, APermanentErrorPausesThePipelineWithTheReason) {
  Assign();
  sink_.FailNextWrites({absl::InternalError("COPY: index corrupted [SQLSTATE XX002]")});
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});
  source_.AddStep({nullptr, Msgs(kP0, 3, 3)});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.attempts(), 1);
  EXPECT_TRUE(sink_.written().empty());
  EXPECT_EQ(loop_->PausedReason(),
            "writing a batch of 3 messages failed and retrying cannot help: COPY: index "
            "corrupted [SQLSTATE XX002]");
  EXPECT_EQ(loop_->Ready().message(), "paused: " + loop_->PausedReason());
  EXPECT_EQ(source_.paused(), (std::vector<TopicPartition>{kP0, kP1}));
  EXPECT_NE(Metrics().find("sluice_pipeline_paused{pipeline=\"test\"} 1"), std::string::npos);
}

// Issue 7.6: a stored offset beyond the log end failed "offset would move" forever.
// Now the source stalls the partition; the loop reports it and resumes when the
// stored offset is reset.
TEST_F(IngestLoopTest, AStalledPartitionWaitsForItsStoredOffsetToBeReset) {
  config_.stall_recheck_interval = absl::Seconds(10);
  sink_.SetStored({{kP0, 500}});
  source_.SetStartOffset(kP0, 0);  // resolvable, yet not pinned at a reclaim
  Assign();
  std::string while_stalled;
  source_.AddStep({[&](RebalanceHandler* h) {
                     h->OnPartitionStalled(kP0, "its stored offset 500 is beyond the end",
                                           RebalanceHandler::StallKind::kNeedsOperator);
                   },
                   {}});
  source_.AddStep({[&](RebalanceHandler*) {
                     while_stalled = std::string(loop_->Ready().message());
                     clock_.Advance(absl::Seconds(11));  // recheck: nothing changed yet
                   },
                   {}});
  source_.AddStep({[&](RebalanceHandler*) {
                     sink_.SetStored(kP0, kOffsetBeginning);  // the operator resets it
                     clock_.Advance(absl::Seconds(11));
                   },
                   {}});
  source_.AddStep({nullptr, {}});
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(while_stalled, "partition items/0 stalled: its stored offset 500 is beyond the end");
  ASSERT_EQ(source_.seeks().size(), 1u);
  // Sought as such, not pinned: a reclaim may follow a fence, and a zombie's pin
  // would move the real owner's position.
  EXPECT_EQ(source_.seeks()[0], (OffsetMap{{kP0, kOffsetBeginning}}));
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 2));
  EXPECT_TRUE(loop_->Ready().ok());
}

// Review finding: when the log's bounds could not be read after an out-of-range
// error, the partition stalled like one beyond the end of its log, waiting for
// an operator to move its stored offset, although nothing was wrong with it.
TEST_F(IngestLoopTest, AStallForUnreadableLogBoundsIsReadAgainAtTheRecheck) {
  config_.stall_recheck_interval = absl::Seconds(10);
  sink_.SetStored({{kP0, 40}});
  Assign();
  source_.AddStep({[&](RebalanceHandler* h) {
                     h->OnPartitionStalled(kP0, "the log's bounds could not be read",
                                           RebalanceHandler::StallKind::kTransient);
                   },
                   {}});
  source_.AddStep({[&](RebalanceHandler*) { clock_.Advance(absl::Seconds(11)); }, {}});
  source_.AddStep({nullptr, {}});
  source_.AddStep({nullptr, Msgs(kP0, 40, 3)});
  ASSERT_TRUE(Run().ok());
  // Nobody touched the stored offset: it is read from there again all the same.
  ASSERT_EQ(source_.seeks().size(), 1u);
  EXPECT_EQ(source_.seeks()[0], (OffsetMap{{kP0, 40}}));
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(40, 42));
  EXPECT_TRUE(loop_->Ready().ok());
}

TEST_F(IngestLoopTest, AFailedSeekIsRetriedAndNothingIsBatchedMeanwhile) {
  sink_.SetStored({{kP0, 10}});
  Assign();
  source_.AddStep({[this](RebalanceHandler*) { sink_.SetStored(kP0, 12); }, Msgs(kP0, 10, 3)});
  source_.FailNextSeeks({absl::UnavailableError("seek timed out")});
  source_.AddStep({nullptr, Msgs(kP0, 13, 2)});  // the old stream goes on: not batched
  source_.AddStep({[this](RebalanceHandler*) { clock_.Advance(absl::Seconds(1)); }, {}});
  source_.AddStep({nullptr, Msgs(kP0, 12, 3)});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(12, 14));
}

TEST_F(IngestLoopTest, DiscardedMessagesAreNotCountedAsConsumed) {
  sink_.SetStored({{kP0, 0}});
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});
  source_.AddStep({nullptr, Msgs(TopicPartition{"items", 9}, 0, 2)});  // not assigned here
  ASSERT_TRUE(Run().ok());
  const std::string m = Metrics();
  EXPECT_NE(m.find("sluice_messages_consumed_total{pipeline=\"test\"} 3"), std::string::npos) << m;
  EXPECT_NE(m.find("sluice_messages_discarded_total{pipeline=\"test\"} 2"), std::string::npos) << m;
}

TEST_F(IngestLoopTest, StopWhileOffsetsCannotBeReadLeavesPartitionsUnread) {
  std::vector<absl::Status> down(100, absl::UnavailableError("down"));
  sink_.FailNextReads(down);
  OffsetMap start = {{kP0, 123}};
  source_.AddStep({[&](RebalanceHandler* h) {
                     stop_ = true;
                     start = h->OnPartitionsAssigned({kP0});
                   },
                   {}});
  ASSERT_TRUE(Run().ok());
  EXPECT_TRUE(start.empty());
}

// Review finding: one failed read of the stored offsets during an assign kept
// /ready at "failing" for good on an idle pipeline.
TEST_F(IngestLoopTest, ABlipWhileReadingOffsetsDoesNotLeaveReadyFailing) {
  config_.unready_after = absl::Seconds(30);
  sink_.FailNextReads({absl::UnavailableError("blip")});
  Assign();
  std::string ready;
  source_.AddStep({[&](RebalanceHandler*) {
                     clock_.Advance(absl::Minutes(1));
                     ready = loop_->Ready().ToString();
                   },
                   {}});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(ready, "OK");
}

// Review finding: a reclaim pending when a permanent error paused the pipeline
// sought (and so resumed) its partitions again.
TEST_F(IngestLoopTest, APausedPipelineStaysPaused) {
  sink_.SetStored({{kP0, 0}, {kP1, 0}});
  Assign();
  // kP1's batch is fenced (another writer), so kP1 is due to be claimed again,
  // when, in the same poll, a permanent error pauses the pipeline.
  std::vector<Message> poll = Msgs(kP1, 0, 3);
  for (Message& m : Msgs(kP0, 0, 3)) poll.push_back(m);
  source_.AddStep({[this](RebalanceHandler*) { sink_.SetStored(kP1, 5); }, poll});
  sink_.OnWrite([this](int attempt) {
    if (attempt == 2) sink_.FailNextWrites({absl::InternalError("XX000")});
  });
  source_.AddStep({[this](RebalanceHandler*) { clock_.Advance(absl::Seconds(5)); }, {}});
  ASSERT_TRUE(Run().ok());
  EXPECT_FALSE(loop_->PausedReason().empty());
  EXPECT_TRUE(source_.seeks().empty());  // nothing resumed
}

// Review finding: a revoke with lost=true retried the open batch inside the
// rebalance callback, for partitions that already belong to another worker.
TEST_F(IngestLoopTest, ALostPartitionsBatchIsNotWrittenInsideTheCallback) {
  sink_.SetStored({{kP0, 0}, {kP1, 0}});
  Assign();
  source_.AddStep({nullptr, {Msg(kP0, 0), Msg(kP1, 0)}});
  std::vector<absl::Status> down(1000, absl::UnavailableError("down"));
  source_.AddStep({[&](RebalanceHandler* h) {
                     sink_.FailNextWrites(down);
                     h->OnPartitionsRevoked({kP0}, /*lost=*/true);
                   },
                   {}});
  ASSERT_TRUE(Run().ok() || true);
  EXPECT_EQ(sink_.attempts(), 0);
  EXPECT_TRUE(sink_.WrittenOffsets(kP0).empty());
  // kP1's message is read again from its stored offset.
  ASSERT_FALSE(source_.seeks().empty());
  EXPECT_EQ(source_.seeks()[0], (OffsetMap{{kP1, 0}}));
}

// Issue 9: the overlapped writer. While a batch is in flight the loop goes on
// polling and fills the next one; it is handed over only once the first committed.
TEST_F(IngestLoopTest, TheNextBatchFillsWhileOneIsInFlight) {
  sink_.SetStored(kP0, 0);
  Assign();
  writer_.Hold(true);
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});  // full: handed to the writer
  source_.AddStep({[this](RebalanceHandler*) {
                     EXPECT_TRUE(writer_.in_flight());
                     EXPECT_TRUE(sink_.written().empty());
                   },
                   Msgs(kP0, 3, 2)});  // fills the next batch meanwhile
  source_.AddStep({[this](RebalanceHandler*) {
                     // Still in flight: the second batch has not been started.
                     EXPECT_EQ(writer_.started(), 1);
                     writer_.Hold(false);
                   },
                   Msgs(kP0, 5, 1)});  // completes the second batch
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(sink_.written().size(), 2u);
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 5));
  // The second batch's compare-and-set expects what the first one stored.
  EXPECT_EQ(sink_.stored().at(kP0), 6);
  ASSERT_EQ(source_.commits().size(), 2u);
  EXPECT_EQ(source_.commits()[0].at(kP0), 3);
  EXPECT_EQ(source_.commits()[1].at(kP0), 6);
}

// Issue 9 rule: the rebalance callback waits for the batch in flight of the
// partitions it revokes; nothing is written for them after it returns.
TEST_F(IngestLoopTest, ARevokeWaitsForTheBatchInFlight) {
  sink_.SetStored({{kP0, 0}});
  Assign();
  writer_.Hold(true);
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});  // in flight, held
  source_.AddStep({[this](RebalanceHandler* h) {
                     EXPECT_TRUE(sink_.written().empty());
                     h->OnPartitionsRevoked({kP0}, /*lost=*/false);
                     // Returned only after the batch in flight committed.
                     EXPECT_FALSE(writer_.in_flight());
                     EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 2));
                     EXPECT_EQ(sink_.stored().at(kP0), 3);
                   },
                   Msgs(kP0, 3, 3)});  // fetched before the revoke: not ours any more
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 2));
  EXPECT_EQ(writer_.started(), 1);
}

// Lost partitions belong to another worker already: the batch in flight gets the
// attempt it is in (the fence decides), no retries inside the callback; its other
// partitions are read again from their stored offsets.
TEST_F(IngestLoopTest, ALostRevokeGivesTheBatchInFlightOneAttempt) {
  sink_.SetStored({{kP0, 0}, {kP1, 0}});
  Assign();
  writer_.Hold(true);
  source_.AddStep({nullptr, {Msg(kP0, 0), Msg(kP1, 0), Msg(kP1, 1)}});  // in flight
  std::vector<absl::Status> down(1000, absl::UnavailableError("down"));
  source_.AddStep({[&](RebalanceHandler* h) {
                     sink_.FailNextWrites(down);
                     h->OnPartitionsRevoked({kP0}, /*lost=*/true);
                     EXPECT_FALSE(writer_.in_flight());
                     EXPECT_EQ(sink_.attempts(), 1);
                     sink_.ClearWriteFailures();
                     writer_.Hold(false);
                   },
                   {}});
  source_.AddStep({nullptr, Msgs(kP1, 0, 3)});  // kP1 read again from its stored 0
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.attempts(), 2);
  EXPECT_TRUE(sink_.WrittenOffsets(kP0).empty());
  EXPECT_EQ(sink_.WrittenOffsets(kP1), Range(0, 2));
  ASSERT_FALSE(source_.seeks().empty());
  EXPECT_EQ(source_.seeks()[0], (OffsetMap{{kP1, 0}}));
  // The abandoned attempt is a failure, not a retry.
  EXPECT_EQ(Metrics().find("sluice_write_retries_total{"), std::string::npos) << Metrics();
}

// Review finding: the revoke callback waited (retrying while PostgreSQL was down)
// for writers holding none of the revoked partitions, holding up the group.
TEST_F(IngestLoopTest, ARevokeDoesNotWaitForWritersOfOtherPartitions) {
  sink_.SetStored({{kP0, 0}, {kP1, 0}});
  Assign();
  ManualBatchWriter second(&sink_, &clock_);
  writer_.Hold(true);
  second.Hold(true);
  // kP1's batch is in flight (on whichever writer has it), PostgreSQL down.
  source_.AddStep({nullptr, Msgs(kP1, 0, 3)});
  std::vector<absl::Status> down(1000, absl::UnavailableError("down"));
  source_.AddStep({[&](RebalanceHandler* h) {
                     sink_.FailNextWrites(down);
                     h->OnPartitionsRevoked({kP0}, /*lost=*/false);
                     EXPECT_TRUE(writer_.in_flight() || second.in_flight());
                     EXPECT_EQ(sink_.attempts(), 0);
                     sink_.ClearWriteFailures();
                     writer_.Hold(false);
                     second.Hold(false);
                   },
                   {}});
  loop_ = std::make_unique<IngestLoop>(
      IngestLoopDeps{&source_, &sink_, {&writer_, &second}, &clock_, &metrics_}, config_);
  ASSERT_TRUE(loop_->Run(stop_).ok());
  EXPECT_EQ(sink_.WrittenOffsets(kP1), Range(0, 2));
}

// Review finding: a partition that stalled while its batch was in flight looked
// "moved by an operator" at the first recheck (the commit moved its stored
// offset), and was read again while its open batch still held messages.
TEST_F(IngestLoopTest, AStallDuringAWriteIsNotLiftedByThatWrite) {
  config_.limits.max_rows = 3;
  sink_.SetStored({{kP0, 0}});
  Assign();
  writer_.Hold(true);
  source_.AddStep({nullptr, Msgs(kP0, 0, 4)});  // 0-2 in flight, 3 in the open batch
  source_.AddStep({[this](RebalanceHandler* h) {
                     h->OnPartitionStalled(kP0, "offset out of range",
                                           RebalanceHandler::StallKind::kNeedsOperator);
                     writer_.Hold(false);
                   },
                   {}});
  source_.AddStep({[this](RebalanceHandler*) { clock_.Advance(absl::Seconds(11)); }, {}});
  source_.AddStep({[this](RebalanceHandler*) {
                     EXPECT_EQ(loop_->Ready().code(), absl::StatusCode::kUnavailable);
                   },
                   {}});
  ASSERT_TRUE(Run().ok());
  EXPECT_TRUE(source_.seeks().empty()) << "a stall nobody fixed was lifted";
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 3));
}

// The loop has its writers wake the source when an attempt ends (the threaded
// writer does it from its thread, threaded_batch_writer_test; here the manual
// writer calls it as the attempt ends).
TEST_F(IngestLoopTest, EndedWritesAreWiredToWakeTheSource) {
  sink_.SetStored(kP0, 0);
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 0, 6)});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(writer_.waited(), 2);
  EXPECT_EQ(source_.wakes(), 2);
}

// Issue 9 rule: when the batch in flight is fenced, the batch queued behind it and
// the already-polled messages of its partitions are discarded, and the partitions
// are claimed again from the stored offsets.
TEST_F(IngestLoopTest, AFencedBatchInFlightTakesTheBatchBehindItAndThePolledMessages) {
  sink_.SetStored({{kP0, 0}});
  Assign();
  writer_.Hold(true);
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});  // batch 1, in flight
  source_.AddStep({[this](RebalanceHandler*) {
                     sink_.SetStored(kP0, 10);  // another worker took kP0 and wrote
                     writer_.Hold(false);
                   },
                   // 3-5 fill batch 2: handing it over waits for batch 1, which is
                   // fenced; 6-7 came in the same poll.
                   Msgs(kP0, 3, 5)});
  source_.AddStep({nullptr, Msgs(kP0, 10, 3)});  // read again from the stored 10
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(10, 12));
  EXPECT_EQ(source_.seeks(), (std::vector<OffsetMap>{{{kP0, 10}}}));
  EXPECT_EQ(sink_.stored().at(kP0), 13);
  EXPECT_NE(Metrics().find("sluice_messages_discarded_total{pipeline=\"test\"} 5"),
            std::string::npos)
      << Metrics();
}

// Two writers: each partition belongs to one, each batch is its own transaction
// with its own compare-and-sets, and both are in flight at once.
TEST_F(IngestLoopTest, TwoWritersWriteDisjointPartitionsAtOnce) {
  sink_.SetStored({{kP0, 0}, {kP1, 0}});
  Assign();
  ManualBatchWriter second(&sink_, &clock_);
  writer_.Hold(true);
  second.Hold(true);
  source_.AddStep(
      {nullptr, {Msg(kP0, 0), Msg(kP1, 0), Msg(kP0, 1), Msg(kP1, 1), Msg(kP0, 2), Msg(kP1, 2)}});
  source_.AddStep({[&](RebalanceHandler*) {
                     EXPECT_TRUE(writer_.in_flight());
                     EXPECT_TRUE(second.in_flight());
                     writer_.Hold(false);
                     second.Hold(false);
                   },
                   {}});
  loop_ = std::make_unique<IngestLoop>(
      IngestLoopDeps{&source_, &sink_, {&writer_, &second}, &clock_, &metrics_}, config_);
  ASSERT_TRUE(loop_->Run(stop_).ok());
  ASSERT_EQ(sink_.written().size(), 2u);
  for (const Batch& b : sink_.written()) {
    ASSERT_EQ(b.next_offsets.size(), 1u) << "a batch spans writers' partitions";
  }
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 2));
  EXPECT_EQ(sink_.WrittenOffsets(kP1), Range(0, 2));
  EXPECT_EQ(writer_.started() + second.started(), 2);
  EXPECT_EQ(writer_.started(), 1);
}

// Issue 9 (freshness): a batch due while its writer is busy goes on filling
// instead of the loop waiting, and is handed over when the writer is free.
TEST_F(IngestLoopTest, ADueBatchKeepsFillingWhileItsWriterIsBusy) {
  config_.limits = {100, 1 << 20, absl::Milliseconds(150)};
  sink_.SetStored(kP0, 0);
  Assign();
  writer_.Hold(true);
  source_.AddStep({nullptr, Msgs(kP0, 0, 2)});
  source_.AddStep({[this](RebalanceHandler*) { clock_.Advance(absl::Milliseconds(150)); }, {}});
  // Batch 0-1 is in flight (held). 2 opens the next batch, which comes due...
  source_.AddStep({nullptr, Msgs(kP0, 2, 1)});
  source_.AddStep({[this](RebalanceHandler*) { clock_.Advance(absl::Milliseconds(200)); }, {}});
  // ...while the writer is still busy: 3-4 join it, nothing waits.
  source_.AddStep({[this](RebalanceHandler*) {
                     EXPECT_EQ(writer_.started(), 1);
                     EXPECT_EQ(writer_.waited(), 0);
                   },
                   Msgs(kP0, 3, 2)});
  // The writer is free: the due batch goes at once, with all three.
  source_.AddStep({[this](RebalanceHandler*) { writer_.Hold(false); }, {}});
  source_.AddStep({[this](RebalanceHandler*) { EXPECT_EQ(writer_.started(), 2); }, {}});
  ASSERT_TRUE(Run().ok());
  ASSERT_EQ(sink_.written().size(), 2u);
  EXPECT_EQ(sink_.written()[1].messages.size(), 3u);
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 4));
  EXPECT_NE(Metrics().find("sluice_writer_wait_seconds_total{pipeline=\"test\"} 0\n"),
            std::string::npos)
      << "the loop waited for a writer: " << Metrics();
}

// Issue 9 (freshness): after writes that took 40 ms, a batch is handed over 40 ms
// before the consumer timeout, so that it commits within it.
TEST_F(IngestLoopTest, TheHandOverLeavesTheExpectedWriteTime) {
  config_.limits = {3, 1 << 20, absl::Milliseconds(150)};
  sink_.SetStored(kP0, 0);
  sink_.OnWrite([this](int) { clock_.Advance(absl::Milliseconds(40)); });
  Assign();
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});  // full: written, in 40 ms
  source_.AddStep({nullptr, {}});               // the write ends
  source_.AddStep({nullptr, Msgs(kP0, 3, 1)});  // a lone message opens a batch
  source_.AddStep({[this](RebalanceHandler*) { clock_.Advance(absl::Milliseconds(109)); }, {}});
  source_.AddStep({[this](RebalanceHandler*) {
                     EXPECT_EQ(sink_.written().size(), 1u) << "handed over too early";
                     clock_.Advance(absl::Milliseconds(1));
                   },
                   {}});
  source_.AddStep({[this](RebalanceHandler*) {
                     EXPECT_EQ(sink_.written().size(), 2u) << "not handed over at 110 ms";
                   },
                   {}});
  ASSERT_TRUE(Run().ok());
  EXPECT_EQ(Reasons(), (std::vector<FlushReason>{::sluice::v1::FLUSH_REASON_ROWS,
                                                 ::sluice::v1::FLUSH_REASON_TIMEOUT}));
}

// The same stall, with the batch still in flight when the recheck comes: the
// reclaim ends that write first, so its commit is not taken for an operator's.
TEST_F(IngestLoopTest, AStallRecheckEndsTheWriteInFlightFirst) {
  sink_.SetStored({{kP0, 0}});
  Assign();
  writer_.Hold(true);
  source_.AddStep({nullptr, Msgs(kP0, 0, 3)});  // in flight, held throughout
  source_.AddStep({[this](RebalanceHandler* h) {
                     h->OnPartitionStalled(kP0, "offset out of range",
                                           RebalanceHandler::StallKind::kNeedsOperator);
                     clock_.Advance(absl::Seconds(11));
                   },
                   {}});
  source_.AddStep({[this](RebalanceHandler*) {
                     EXPECT_EQ(sink_.stored().at(kP0), 3);  // the recheck ended the write
                   },
                   {}});
  ASSERT_TRUE(Run().ok());
  EXPECT_TRUE(source_.seeks().empty()) << "a stall nobody fixed was lifted";
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 2));
}

// Second review: a revoke whose partition sits in an open batch behind a batch of
// other partitions still being written does not wait for that write (PostgreSQL
// down would hold up the group): the open batch is dropped; the revoked partition
// goes to its new owner from the stored offset, the others are read again.
TEST_F(IngestLoopTest, ARevokeDropsAnOpenBatchBehindAWriteOfOtherPartitions) {
  sink_.SetStored({{kP0, 0}, {kP1, 0}});
  Assign();
  writer_.Hold(true);
  source_.AddStep({nullptr, Msgs(kP1, 0, 3)});             // kP1's batch in flight
  source_.AddStep({nullptr, {Msg(kP0, 0), Msg(kP1, 3)}});  // open: kP0 and kP1
  std::vector<absl::Status> down(1000, absl::UnavailableError("down"));
  source_.AddStep({[&](RebalanceHandler* h) {
                     sink_.FailNextWrites(down);
                     h->OnPartitionsRevoked({kP0}, /*lost=*/false);
                     EXPECT_EQ(sink_.attempts(), 0) << "the callback waited for kP1's write";
                     sink_.ClearWriteFailures();
                     writer_.Hold(false);
                   },
                   {}});
  source_.AddStep({nullptr, Msgs(kP1, 3, 3)});  // kP1 read again from 3
  ASSERT_TRUE(Run().ok());
  EXPECT_TRUE(sink_.WrittenOffsets(kP0).empty());
  EXPECT_EQ(sink_.WrittenOffsets(kP1), Range(0, 5));
}

}  // namespace
}  // namespace sluice::worker

namespace sluice::worker {
namespace {

// Issue 10, the propagation lead as a guarantee: an item is routed only within the
// flag schedule the worker knows. A later one holds its partition (paused, shown
// in Ready() and a gauge) until the controller's horizon covers it.
class ScheduleHoldTest : public IngestLoopTest {
 protected:
  ScheduleHoldTest() : t0_(clock_.Now()) {
    v1::Rollout rollout;
    rollout.set_flag("kafka-ingest");
    rollout.set_kafka_key(true);
    v1::Flag flag;
    flag.set_name("kafka-ingest");
    flag.set_salt("kafka-ingest");
    flag.set_version(1);
    // 100% from the beginning: every routed item takes the Kafka path.
    v1::PercentageChange* c = flag.add_schedule();
    c->mutable_effective_time()->set_seconds(1);
    c->set_basis_points(10000);
    router_ = std::make_unique<Router>(rollout, std::make_shared<const flags::FlagSchedule>(flag));
    router_->ExtendKnownUntil(1, t0_, absl::Seconds(30));
    sink_.SetStored(kP0, 0);
    sink_.SetStored(kP1, 0);
  }

  Message Stamped(const TopicPartition& tp, int64_t offset, absl::Time at) {
    Message m = Msg(tp, offset);
    m.key = "k";
    m.timestamp = at;
    return m;
  }

  absl::Status RunRouted() {
    loop_ = std::make_unique<IngestLoop>(
        IngestLoopDeps{&source_, &sink_, {&writer_}, &clock_, &metrics_, nullptr, router_.get()},
        config_);
    return loop_->Run(stop_);
  }

  // The messages written for `tp`, in order.
  std::vector<Message> Written(const TopicPartition& tp) const {
    std::vector<Message> out;
    for (const Batch& b : sink_.written()) {
      for (const Message& m : b.messages) {
        if (m.topic_partition() == tp) out.push_back(m);
      }
    }
    return out;
  }

  const absl::Time t0_;
  std::unique_ptr<Router> router_;
};

TEST_F(ScheduleHoldTest, AnItemBeyondTheKnownScheduleHoldsItsPartitionUntilTheHorizonCoversIt) {
  Assign();
  std::string ready;
  source_.AddStep(
      {nullptr,
       {Stamped(kP0, 0, t0_ - absl::Seconds(1)), Stamped(kP0, 1, t0_),
        Stamped(kP0, 2, t0_ + absl::Seconds(5)), Stamped(kP0, 3, t0_ + absl::Seconds(6)),
        Stamped(kP1, 0, t0_ - absl::Seconds(1))}});
  source_.AddStep({[&](RebalanceHandler*) {
                     ready = std::string(loop_->Ready().message());
                     EXPECT_NE(Metrics().find("sluice_partitions_held_for_schedule{pipeline="
                                              "\"test\"} 1"),
                               std::string::npos);
                     // Ten seconds pass: still within the hold limit, still beyond.
                     clock_.Advance(absl::Seconds(10));
                   },
                   {Stamped(kP1, 1, t0_ - absl::Seconds(1))}});
  source_.AddStep({[&](RebalanceHandler*) {
                     EXPECT_EQ(source_.seeks().size(), 0u) << "released before it was known";
                     // The controller is heard from again.
                     router_->ExtendKnownUntil(1, t0_ + absl::Seconds(10), absl::Seconds(30));
                   },
                   {}});
  // The loop seeks P0 back to the held item: the stream continues from there.
  source_.AddStep(
      {nullptr,
       {Stamped(kP0, 2, t0_ + absl::Seconds(5)), Stamped(kP0, 3, t0_ + absl::Seconds(6))}});
  ASSERT_TRUE(RunRouted().ok());

  EXPECT_TRUE(absl::StrContains(ready, "partition items/0 held: item at offset 2 has timestamp"))
      << ready;
  EXPECT_TRUE(absl::StrContains(ready, "later than the flag schedule this worker knows")) << ready;
  ASSERT_EQ(source_.paused().size(), 1u);
  EXPECT_EQ(source_.paused()[0], kP0);
  ASSERT_EQ(source_.seeks().size(), 1u);
  EXPECT_EQ(source_.seeks()[0], (OffsetMap{{kP0, 2}}));
  // Every item once, in order, each on the path its timestamp says; none dead.
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 3));
  EXPECT_EQ(sink_.WrittenOffsets(kP1), Range(0, 1));
  for (const Message& m : Written(kP0)) {
    EXPECT_EQ(m.path, Path::kKafka) << m.offset;
    EXPECT_TRUE(m.unrouted_reason.empty()) << m.offset;
  }
  EXPECT_EQ(sink_.stored().at(kP0), 4);
  EXPECT_NE(Metrics().find("sluice_partitions_held_for_schedule{pipeline=\"test\"} 0"),
            std::string::npos);
  EXPECT_NE(Metrics().find("sluice_schedule_holds_total{pipeline=\"test\"} 1"), std::string::npos);
  EXPECT_NE(Metrics().find("sluice_items_beyond_known_schedule_total{pipeline=\"test\"} 0"),
            std::string::npos);
}

TEST_F(ScheduleHoldTest, AnItemStillBeyondAfterTheHoldLimitGoesToDeadLettersNotAPath) {
  Assign();
  // A producer clock an hour ahead.
  const absl::Time ahead = t0_ + absl::Hours(1);
  source_.AddStep({nullptr, {Stamped(kP0, 0, ahead), Stamped(kP0, 1, t0_)}});
  source_.AddStep({[&](RebalanceHandler*) { clock_.Advance(absl::Seconds(29)); }, {}});
  source_.AddStep({[&](RebalanceHandler*) {
                     EXPECT_EQ(source_.seeks().size(), 0u);
                     // The horizon moves on (the controller is fine), not far enough.
                     router_->ExtendKnownUntil(1, t0_ + absl::Seconds(30), absl::Seconds(30));
                     clock_.Advance(absl::Seconds(1));
                   },
                   {}});
  // Released at the limit: the item comes back, still beyond, and goes to dead
  // letters; the partition goes on.
  source_.AddStep(
      {nullptr, {Stamped(kP0, 0, ahead), Stamped(kP0, 1, t0_), Stamped(kP0, 2, ahead)}});
  // The next item beyond holds again, for a new limit (the partition routed one).
  source_.AddStep({[&](RebalanceHandler*) {
                     EXPECT_TRUE(absl::StrContains(loop_->Ready().message(), "offset 2"))
                         << loop_->Ready();
                   },
                   {}});
  ASSERT_TRUE(RunRouted().ok());

  std::vector<Message> written = Written(kP0);
  ASSERT_EQ(written.size(), 2u);
  EXPECT_EQ(written[0].offset, 0);
  EXPECT_TRUE(absl::StrContains(written[0].unrouted_reason, "timestamp beyond the known schedule"))
      << written[0].unrouted_reason;
  EXPECT_TRUE(absl::StrContains(written[0].unrouted_reason, "hold limit (30s)"))
      << written[0].unrouted_reason;
  EXPECT_EQ(written[1].offset, 1);
  EXPECT_TRUE(written[1].unrouted_reason.empty());
  EXPECT_EQ(written[1].path, Path::kKafka);
  // Offset 2 was held when the loop stopped: not written, read again later.
  EXPECT_EQ(sink_.stored().at(kP0), 2);
  EXPECT_NE(Metrics().find("sluice_items_beyond_known_schedule_total{pipeline=\"test\"} 1"),
            std::string::npos)
      << Metrics();
  EXPECT_NE(Metrics().find("sluice_schedule_holds_total{pipeline=\"test\"} 2"), std::string::npos);
}

// Before the first horizon the worker knows nothing beyond the beginning of
// time: items with a timestamp wait; items without one take the legacy path.
TEST_F(ScheduleHoldTest, BeforeTheFirstHorizonOnlyItemsWithoutATimestampAreRouted) {
  v1::Rollout rollout;
  rollout.set_flag("kafka-ingest");
  rollout.set_kafka_key(true);
  v1::Flag flag;
  flag.set_name("kafka-ingest");
  flag.set_version(1);
  router_ = std::make_unique<Router>(rollout, std::make_shared<const flags::FlagSchedule>(flag));
  Assign();
  Message untimed = Msg(kP1, 0);
  source_.AddStep({nullptr, {Stamped(kP0, 0, t0_ - absl::Hours(1)), untimed}});
  ASSERT_TRUE(RunRouted().ok());
  EXPECT_TRUE(sink_.WrittenOffsets(kP0).empty());
  ASSERT_EQ(Written(kP1).size(), 1u);
  EXPECT_EQ(Written(kP1)[0].path, Path::kLegacy);
  EXPECT_EQ(source_.paused(), std::vector<TopicPartition>{kP0});
}

// Found by review: an item far ahead of the clock re-armed a full hold each time
// it followed a routed item. One that cannot become known within the hold limit
// (later than now + lead + limit) goes to dead letters at once.
TEST_F(ScheduleHoldTest, AnItemThatCannotBecomeKnownInTimeGoesToDeadLettersWithoutHolding) {
  router_->ExtendKnownUntil(1, t0_, absl::Seconds(30), /*lead=*/absl::Seconds(2));
  Assign();
  source_.AddStep({nullptr,
                   {Stamped(kP0, 0, t0_ + absl::Hours(1)), Stamped(kP0, 1, t0_),
                    Stamped(kP0, 2, t0_ + absl::Seconds(31))}});
  ASSERT_TRUE(RunRouted().ok());
  std::vector<Message> written = Written(kP0);
  ASSERT_EQ(written.size(), 2u);
  EXPECT_TRUE(absl::StrContains(written[0].unrouted_reason, "too far ahead"))
      << written[0].unrouted_reason;
  EXPECT_TRUE(written[1].unrouted_reason.empty());
  // Offset 2 is within now + lead + limit: it holds.
  EXPECT_EQ(source_.paused(), std::vector<TopicPartition>{kP0});
  EXPECT_NE(Metrics().find("sluice_items_beyond_known_schedule_total{pipeline=\"test\"} 1"),
            std::string::npos);
}

// Found by review: a failing seek back to a held item was retried on every loop.
TEST_F(ScheduleHoldTest, AFailedReleaseBacksOff) {
  Assign();
  source_.AddStep({nullptr, {Stamped(kP0, 0, t0_ + absl::Seconds(5))}});
  source_.AddStep({[&](RebalanceHandler*) {
                     router_->ExtendKnownUntil(1, t0_ + absl::Seconds(10), absl::Seconds(30));
                     source_.FailNextSeeks({absl::UnavailableError("broker down")});
                   },
                   {}});
  source_.AddStep({nullptr, {}});  // the seek failed: no new attempt before the backoff
  source_.AddStep({[&](RebalanceHandler*) {
                     EXPECT_TRUE(source_.seeks().empty());
                     clock_.Advance(absl::Seconds(1));
                   },
                   {}});
  source_.AddStep({nullptr, {Stamped(kP0, 0, t0_ + absl::Seconds(5))}});
  ASSERT_TRUE(RunRouted().ok());
  ASSERT_EQ(source_.seeks().size(), 1u);
  EXPECT_EQ(sink_.WrittenOffsets(kP0), Range(0, 0));
}

}  // namespace
}  // namespace sluice::worker
