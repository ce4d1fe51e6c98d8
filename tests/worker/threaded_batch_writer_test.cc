// The threaded writer: the attempt runs on its own thread while the caller goes
// on, Done() tells whether it ended, Wait() returns its outcome.
#include "worker/threaded_batch_writer.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_batch_sink.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::worker {
namespace {

using ::sluice::testing::FakeBatchSink;
using ::sluice::testing::ManualClock;

Batch OneMessage(int64_t offset) {
  Batch b;
  Message m;
  m.topic = "items";
  m.offset = offset;
  m.payload = "{}";
  b.messages.push_back(m);
  b.next_offsets[{"items", 0}] = offset + 1;
  return b;
}

TEST(ThreadedBatchWriterTest, WritesOffTheCallersThread) {
  FakeBatchSink sink;
  ManualClock clock;
  absl::Notification entered, release;
  std::thread::id writer_thread;
  sink.OnWrite([&](int) {
    writer_thread = std::this_thread::get_id();
    entered.Notify();
    release.WaitForNotification();
  });
  ThreadedBatchWriter writer(&sink, &clock);
  absl::Notification ended;
  writer.NotifyOnEnd([&] { ended.Notify(); });
  const Batch batch = OneMessage(0);
  const std::vector<OffsetUpdate> updates = {{{"items", 0}, std::nullopt, 1}};
  writer.Start(batch, updates);
  entered.WaitForNotification();
  EXPECT_FALSE(ended.HasBeenNotified());
  // The caller is free while the transaction runs.
  EXPECT_FALSE(writer.Done());
  clock.Advance(absl::Seconds(2));
  release.Notify();
  // The caller hears of the end without asking (the loop's poll is woken);
  // Done() turns true once that notification has returned.
  ended.WaitForNotification();
  WriteOutcome outcome = writer.Wait();
  ASSERT_TRUE(outcome.result.ok());
  EXPECT_TRUE(outcome.result->fenced.empty());
  EXPECT_EQ(outcome.result->rows_written, 1);
  EXPECT_EQ(outcome.finished_at, absl::FromUnixSeconds(1700000002));
  EXPECT_NE(writer_thread, std::this_thread::get_id());
  EXPECT_EQ(sink.stored().at({"items", 0}), 1);
}

TEST(ThreadedBatchWriterTest, OneAttemptPerStartAndItsErrorIsReturned) {
  FakeBatchSink sink;
  ManualClock clock;
  sink.FailNextWrites({absl::UnavailableError("connection refused")});
  ThreadedBatchWriter writer(&sink, &clock);
  const Batch batch = OneMessage(0);
  const std::vector<OffsetUpdate> updates = {{{"items", 0}, std::nullopt, 1}};
  writer.Start(batch, updates);
  WriteOutcome first = writer.Wait();
  EXPECT_EQ(first.result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(sink.attempts(), 1);
  // Idle again: the caller decides to retry.
  writer.Start(batch, updates);
  WriteOutcome second = writer.Wait();
  EXPECT_TRUE(second.result.ok());
  EXPECT_EQ(sink.attempts(), 2);
  // And a fence comes back as a result, not an error.
  const Batch next = OneMessage(5);
  const std::vector<OffsetUpdate> stale = {{{"items", 0}, 5, 6}};
  writer.Start(next, stale);
  WriteOutcome fenced = writer.Wait();
  ASSERT_TRUE(fenced.result.ok());
  EXPECT_EQ(fenced.result->fenced.size(), 1u);
}

// Review finding: Wait() returned as soon as the outcome was published, while the
// writer thread was still about to call `ended` (the source's Wake), so the caller
// could destroy the source under it.
TEST(ThreadedBatchWriterTest, WaitReturnsOnlyAfterTheEndNotificationReturned) {
  FakeBatchSink sink;
  ManualClock clock;
  absl::Notification in_ended, release_ended;
  std::atomic<bool> ended_returned{false};
  ThreadedBatchWriter writer(&sink, &clock);
  writer.NotifyOnEnd([&] {
    in_ended.Notify();
    release_ended.WaitForNotification();
    ended_returned = true;
  });
  const Batch batch = OneMessage(0);
  const std::vector<OffsetUpdate> updates = {{{"items", 0}, std::nullopt, 1}};
  writer.Start(batch, updates);
  in_ended.WaitForNotification();
  bool ended_when_waited = false;
  std::thread waiter([&] {
    writer.Wait();
    ended_when_waited = ended_returned.load();
  });
  // Give a wrong Wait() the time to return early (a right one blocks meanwhile).
  absl::SleepFor(absl::Milliseconds(50));
  release_ended.Notify();
  waiter.join();
  EXPECT_TRUE(ended_when_waited);
}

TEST(ThreadedBatchWriterTest, DestroyingWaitsForTheAttemptInProgress) {
  FakeBatchSink sink;
  ManualClock clock;
  absl::Notification entered;
  std::atomic<bool> finished{false};
  sink.OnWrite([&](int) {
    entered.Notify();
    absl::SleepFor(absl::Milliseconds(50));
    finished = true;
  });
  const Batch batch = OneMessage(0);
  const std::vector<OffsetUpdate> updates = {{{"items", 0}, std::nullopt, 1}};
  {
    ThreadedBatchWriter writer(&sink, &clock);
    writer.Start(batch, updates);
    entered.WaitForNotification();
  }
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace sluice::worker
