#include "worker/batcher.h"

#include "gtest/gtest.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::worker {
namespace {

using ::sluice::testing::ManualClock;

Message Msg(int32_t partition, int64_t offset, size_t bytes = 10) {
  return Message{"t", partition, offset, std::nullopt, std::string(bytes, 'x'), std::nullopt};
}

TEST(BatcherTest, FlushesOnRowLimit) {
  ManualClock clock;
  Batcher b(clock, {3, 1 << 20, absl::Seconds(1)});
  EXPECT_EQ(b.Add(Msg(0, 0), 0), std::nullopt);
  EXPECT_EQ(b.Add(Msg(0, 1), 0), std::nullopt);
  EXPECT_EQ(b.Add(Msg(1, 7), 0), ::sluice::v1::FLUSH_REASON_ROWS);
  Batch batch = b.Take(::sluice::v1::FLUSH_REASON_ROWS);
  EXPECT_EQ(batch.messages.size(), 3u);
  EXPECT_EQ(batch.reason, ::sluice::v1::FLUSH_REASON_ROWS);
  EXPECT_EQ(batch.next_offsets.at({"t", 0}), 2);
  EXPECT_EQ(batch.next_offsets.at({"t", 1}), 8);
  EXPECT_TRUE(b.empty());
}

TEST(BatcherTest, FlushesOnByteLimit) {
  ManualClock clock;
  Batcher b(clock, {1000, 25, absl::Seconds(1)});
  EXPECT_EQ(b.Add(Msg(0, 0, 10), 0), std::nullopt);
  EXPECT_EQ(b.Add(Msg(0, 1, 10), 0), std::nullopt);
  EXPECT_EQ(b.Add(Msg(0, 2, 10), 0), ::sluice::v1::FLUSH_REASON_BYTES);
  EXPECT_EQ(b.Take(::sluice::v1::FLUSH_REASON_BYTES).bytes, 30);
}

TEST(BatcherTest, FlushesWhenOldestMessageReachesConsumerTimeout) {
  ManualClock clock;
  Batcher b(clock, {1000, 1 << 20, absl::Milliseconds(150)});
  EXPECT_EQ(b.deadline(), absl::InfiniteFuture());
  EXPECT_EQ(b.CheckTimeout(), std::nullopt);
  const absl::Time first = clock.Now();
  b.Add(Msg(0, 0), 0);
  clock.Advance(absl::Milliseconds(100));
  b.Add(Msg(0, 1), 0);  // a later message does not extend the wait of the first
  EXPECT_EQ(b.deadline(), first + absl::Milliseconds(150));
  EXPECT_EQ(b.CheckTimeout(), std::nullopt);
  clock.Advance(absl::Milliseconds(49));
  EXPECT_EQ(b.CheckTimeout(), std::nullopt);
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(b.CheckTimeout(), ::sluice::v1::FLUSH_REASON_TIMEOUT);
  Batch batch = b.Take(::sluice::v1::FLUSH_REASON_TIMEOUT);
  EXPECT_EQ(batch.opened_at, first);
  EXPECT_EQ(b.deadline(), absl::InfiniteFuture());
}

// Issue 9 (freshness): the consumer timeout bounds the time from a message's
// Kafka timestamp to its commit, so the fetch delay before the batch opened and
// the expected write both come out of it.
TEST(BatcherTest, TheDeadlineCountsFromTheKafkaTimestampAndLeavesTimeForTheWrite) {
  ManualClock clock;
  const absl::Duration timeout = absl::Milliseconds(150);
  Batcher b(clock, {1000, 1 << 20, timeout});
  const absl::Time now = clock.Now();
  Message m = Msg(0, 0);
  m.timestamp = now - absl::Milliseconds(30);  // produced 30 ms before it was consumed
  b.Add(m, 0);
  EXPECT_EQ(b.deadline(), now - absl::Milliseconds(30) + timeout);
  b.set_write_allowance(absl::Milliseconds(40));
  EXPECT_EQ(b.deadline(), now - absl::Milliseconds(30) + timeout - absl::Milliseconds(40));
  // The allowance is at most half the timeout (a slow write, an outage).
  b.set_write_allowance(absl::Seconds(5));
  EXPECT_EQ(b.deadline(), now - absl::Milliseconds(30) + timeout / 2);
  b.Take(::sluice::v1::FLUSH_REASON_TIMEOUT);
  b.set_write_allowance(absl::ZeroDuration());

  // A backlog (or a producer clock behind): counted from one timeout before it
  // was consumed, so the batch is due at once but not before it opened.
  m.timestamp = now - absl::Hours(3);
  b.Add(m, 0);
  EXPECT_EQ(b.deadline(), now);
  b.Take(::sluice::v1::FLUSH_REASON_TIMEOUT);
  // A producer clock ahead, or no timestamp: counted from its consumption.
  m.timestamp = now + absl::Seconds(10);
  b.Add(m, 0);
  EXPECT_EQ(b.deadline(), now + timeout);
  b.Take(::sluice::v1::FLUSH_REASON_TIMEOUT);
  m.timestamp.reset();
  b.Add(m, 0);
  EXPECT_EQ(b.deadline(), now + timeout);
}

TEST(BatcherTest, NewLimitsApplyToTheNextAdd) {
  ManualClock clock;
  Batcher b(clock, {10, 1 << 20, absl::Seconds(1)});
  b.Add(Msg(0, 0), 0);
  b.set_limits({2, 1 << 20, absl::Seconds(1)});
  EXPECT_EQ(b.Add(Msg(0, 1), 0), ::sluice::v1::FLUSH_REASON_ROWS);
}

TEST(BatcherTest, TombstonesCountNoBytes) {
  ManualClock clock;
  Batcher b(clock, {10, 5, absl::Seconds(1)});
  Message tombstone{"t", 0, 0, std::string("k"), std::nullopt, std::nullopt};
  EXPECT_EQ(b.Add(tombstone, 0), std::nullopt);
  EXPECT_EQ(b.Take(::sluice::v1::FLUSH_REASON_SHUTDOWN).bytes, 0);
}

TEST(BatcherTest, FlushReasonNames) {
  EXPECT_STREQ(FlushReasonName(::sluice::v1::FLUSH_REASON_ROWS), "rows");
  EXPECT_STREQ(FlushReasonName(::sluice::v1::FLUSH_REASON_BYTES), "bytes");
  EXPECT_STREQ(FlushReasonName(::sluice::v1::FLUSH_REASON_TIMEOUT), "timeout");
  EXPECT_STREQ(FlushReasonName(::sluice::v1::FLUSH_REASON_REVOKE), "revoke");
  EXPECT_STREQ(FlushReasonName(::sluice::v1::FLUSH_REASON_SHUTDOWN), "shutdown");
}

}  // namespace
}  // namespace sluice::worker
