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
