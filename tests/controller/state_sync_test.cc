#include "controller/state_sync.h"

#include <deque>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_state_source.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::ManualClock;

using ::sluice::testing::FakeStateSource;

StateSnapshot Snapshot(uint64_t revision, const std::string& pipeline, uint64_t version) {
  StateSnapshot s;
  s.revision = revision;
  v1::Pipeline p;
  p.mutable_config()->set_name(pipeline);
  p.mutable_config()->set_desired_workers(1);
  p.set_version(version);
  s.pipelines.push_back(p);
  return s;
}

class StateSyncTest : public ::testing::Test {
 protected:
  // The version of `pipeline` the fleet assigns to worker w1 (0: none).
  uint64_t Version(const std::string& pipeline) {
    v1::Assignment a = fleet_.AssignmentFor("w1");
    for (const v1::AssignedPipeline& p : a.pipelines()) {
      if (p.config().name() == pipeline) return p.version();
    }
    return 0;
  }

  ManualClock clock_;
  Fleet fleet_{clock_, {absl::Seconds(10), absl::Seconds(5)}, nullptr};
  FakeStateSource source_;
  StateSync sync_{&source_, &fleet_, clock_};
};

// Issue 10: a reload that failed after a committed write answered OK and was never
// tried again: the controller served the old state until the next write. Now the
// failure shows in Ready() (the controller's /ready) and Tick() retries it.
TEST_F(StateSyncTest, AFailedLoadIsShownAndRetriedUntilItLoads) {
  ASSERT_TRUE(fleet_
                  .Connect(
                      [] {
                        v1::Hello h;
                        h.set_worker_id("w1");
                        return h;
                      }(),
                      "local")
                  .ok());
  EXPECT_EQ(sync_.Ready().message(), "controller state not loaded yet");
  source_.load_answers.push_back(Snapshot(1, "a", 1));
  ASSERT_TRUE(sync_.Reload().ok());
  EXPECT_TRUE(sync_.Ready().ok());
  EXPECT_EQ(Version("a"), 1u);

  source_.load_answers.push_back(absl::UnavailableError("controller database: gone"));
  EXPECT_FALSE(sync_.Reload().ok());
  EXPECT_EQ(sync_.Ready().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(sync_.Ready().message(),
            "controller state may be stale since 2023-11-14T22:13:20Z (retrying): controller "
            "database: gone");
  // Retried after 1 s, then 2 s, ... while it keeps failing.
  source_.load_answers.push_back(absl::UnavailableError("controller database: still gone"));
  sync_.Tick();
  EXPECT_EQ(source_.loads, 2);  // not due yet
  clock_.Advance(absl::Seconds(1));
  sync_.Tick();
  EXPECT_EQ(source_.loads, 3);
  EXPECT_TRUE(absl::StrContains(sync_.Ready().message(), "still gone"));
  source_.load_answers.push_back(Snapshot(2, "a", 2));
  clock_.Advance(absl::Seconds(1));
  sync_.Tick();
  EXPECT_EQ(source_.loads, 3);  // the second retry waits 2 s
  clock_.Advance(absl::Seconds(1));
  sync_.Tick();
  EXPECT_EQ(source_.loads, 4);
  EXPECT_TRUE(sync_.Ready().ok());
  EXPECT_EQ(Version("a"), 2u);
}

// Nothing reloaded periodically, so a write by another controller (or a direct
// edit) was never seen. The revision is polled; a change is loaded.
TEST_F(StateSyncTest, ARevisionThatMovedIsLoadedAndOneThatDidNotIsNot) {
  source_.load_answers.push_back(Snapshot(5, "a", 1));
  ASSERT_TRUE(sync_.Reload().ok());
  source_.revision = 5;
  clock_.Advance(absl::Seconds(5));
  sync_.Tick();
  EXPECT_EQ(source_.polls, 1);
  EXPECT_EQ(source_.loads, 1);  // unchanged: not loaded again
  clock_.Advance(absl::Seconds(4));
  sync_.Tick();
  EXPECT_EQ(source_.polls, 1);  // polled every 5 s, not every tick
  source_.revision = 6;
  source_.load_answers.push_back(Snapshot(6, "a", 2));
  clock_.Advance(absl::Seconds(1));
  sync_.Tick();
  EXPECT_EQ(source_.loads, 2);
  EXPECT_EQ(fleet_.applied_revision(), 6u);
  // A database that stops answering the poll makes the state possibly stale.
  source_.revision = absl::UnavailableError("controller database: timeout");
  clock_.Advance(absl::Seconds(5));
  sync_.Tick();
  EXPECT_EQ(sync_.Ready().code(), absl::StatusCode::kUnavailable);
}

// Concurrent reloads could apply an older snapshot last: workers and FlagClient
// then stepped back a version. An older revision is never applied over a newer.
TEST_F(StateSyncTest, AnOlderSnapshotIsNeverAppliedOverANewerOne) {
  ASSERT_TRUE(fleet_.ApplyState(Snapshot(7, "a", 3)));
  EXPECT_FALSE(fleet_.ApplyState(Snapshot(6, "a", 2)));
  EXPECT_EQ(fleet_.applied_revision(), 7u);
  source_.load_answers.push_back(Snapshot(6, "a", 2));
  EXPECT_TRUE(sync_.Reload().ok());  // read fine, dropped as older
  EXPECT_EQ(fleet_.applied_revision(), 7u);
  EXPECT_TRUE(fleet_.ApplyState(Snapshot(7, "a", 3)));  // the same again is harmless
}

}  // namespace
}  // namespace sluice::controller
