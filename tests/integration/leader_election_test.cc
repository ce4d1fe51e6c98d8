// LeaderElection against a real PostgreSQL: two replicas in one process, each
// with its own lock connection.
#include "controller/leader_election.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "controller/state_store.h"
#include "gtest/gtest.h"
#include "tests/fixtures/postgres_server.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::PgDatabase;
using ::sluice::testing::PostgresServer;

// One replica's election with counters of its takeovers and step-downs.
struct Replica {
  Replica(const std::string& conninfo, const std::string& address)
      : election(
            {conninfo, address, absl::Milliseconds(100)}, clock, nullptr,
            [this](bool led_last) -> absl::Status {
              ++takeovers;
              last_led_last = led_last;
              return refuse_takeover ? absl::UnavailableError("state not loaded")
                                     : absl::OkStatus();
            },
            [this](bool holds_lock) {
              ++step_downs;
              last_holds_lock = holds_lock;
            }) {}

  RealClock clock;
  std::atomic<int> takeovers{0};
  std::atomic<int> step_downs{0};
  std::atomic<bool> refuse_takeover{false};
  std::atomic<bool> last_led_last{false};
  std::atomic<bool> last_holds_lock{false};
  LeaderElection election;
};

// Steps `r` until it leads (at most 5 s): a resigned leader's session ends on the
// server a moment after its connection closes, and with it its lock.
bool StepUntilLeader(Replica& r) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    r.election.Step();
    if (r.election.IsLeader()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

class LeaderElectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::SharedOrPrivate();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    absl::StatusOr<PgDatabase> db = server_->CreateDatabase("leader_election");
    ASSERT_TRUE(db.ok()) << db.status();
    // The schema (the leader table) is the state store's.
    ASSERT_TRUE(StateStore::Open({db->ConnectionString()}).ok());
    db_ = std::make_unique<PgDatabase>(std::move(*db));
  }

  std::unique_ptr<PostgresServer> server_;
  std::unique_ptr<PgDatabase> db_;
};

TEST_F(LeaderElectionTest, OneLeadsTheOtherNamesItAndTakesOverWhenItsSessionEnds) {
  Replica a(db_->ConnectionString(), "a:7400");
  Replica b(db_->ConnectionString(), "b:7400");
  a.election.Step();
  b.election.Step();
  EXPECT_TRUE(a.election.IsLeader());
  EXPECT_FALSE(b.election.IsLeader());
  EXPECT_EQ(a.takeovers, 1);
  EXPECT_EQ(b.takeovers, 0);
  EXPECT_EQ(a.election.LeaderAddress(), "a:7400");
  EXPECT_EQ(b.election.LeaderAddress(), "a:7400");
  a.election.Step();  // the leader's check
  EXPECT_TRUE(a.election.IsLeader());

  // The leader's session ends (as when its host dies and the server's keepalives
  // give up): the lock is free, and the row no longer names it.
  db_->Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'sluice-controller leader election' AND pid = (SELECT pid FROM sluice_controller.leader)");
  // (pg_terminate_backend returns before the session has ended.)
  ASSERT_TRUE(StepUntilLeader(b));
  EXPECT_EQ(b.takeovers, 1);
  EXPECT_FALSE(b.last_led_last) << "a led last";
  EXPECT_EQ(b.election.LeaderAddress(), "b:7400");
  // The old leader finds out on its next check, and steps down once.
  a.election.Step();
  EXPECT_FALSE(a.election.IsLeader());
  EXPECT_EQ(a.step_downs, 1);
  EXPECT_FALSE(a.last_holds_lock) << "its lock went with its session";
  a.election.Step();
  EXPECT_FALSE(a.election.IsLeader());
  EXPECT_EQ(a.election.LeaderAddress(), "b:7400");
  EXPECT_EQ(a.step_downs, 1);
  // a leads again once b resigns; b led last, not a.
  b.election.Resign();
  EXPECT_TRUE(b.last_holds_lock) << "a resignation stores what it holds first";
  ASSERT_TRUE(StepUntilLeader(a));
  EXPECT_FALSE(a.last_led_last);
  // And after its own resignation, with nobody in between, it led last.
  a.election.Resign();
  ASSERT_TRUE(StepUntilLeader(a));
  EXPECT_TRUE(a.last_led_last);
}

// A replica that wins the lock but cannot take over (its state does not load)
// gives the lock back, so another can lead, and tries again later.
TEST_F(LeaderElectionTest, AFailedTakeoverGivesTheLockBack) {
  Replica a(db_->ConnectionString(), "a:7400");
  Replica b(db_->ConnectionString(), "b:7400");
  a.refuse_takeover = true;
  a.election.Step();
  EXPECT_FALSE(a.election.IsLeader());
  EXPECT_EQ(a.takeovers, 1);
  b.election.Step();
  EXPECT_TRUE(b.election.IsLeader());
  a.refuse_takeover = false;
  a.election.Step();
  EXPECT_FALSE(a.election.IsLeader());
  EXPECT_EQ(a.election.LeaderAddress(), "b:7400");
}

// A shutdown gives the lock up at once, rather than after the keepalives.
TEST_F(LeaderElectionTest, ResigningHandsTheLockOver) {
  Replica a(db_->ConnectionString(), "a:7400");
  Replica b(db_->ConnectionString(), "b:7400");
  a.election.Step();
  ASSERT_TRUE(a.election.IsLeader());
  a.election.Resign();
  EXPECT_FALSE(a.election.IsLeader());
  EXPECT_EQ(a.step_downs, 1);
  EXPECT_TRUE(StepUntilLeader(b));
}

// A leader that stalls stops acting as one before the server can hand its lock
// to another (kLeaderConfirmationValid < kLeaderConnectionDeadAfter), and a hung
// leader's idle session is ended by the server, so a follower takes over.
TEST_F(LeaderElectionTest, AStalledLeaderStopsActingAndLosesTheLock) {
  static_assert(kLeaderConfirmationValid < kLeaderConnectionDeadAfter);
  Replica a(db_->ConnectionString(), "a:7400");
  Replica b(db_->ConnectionString(), "b:7400");
  a.election.Step();
  ASSERT_TRUE(a.election.IsLeader());
  // a makes no check from here on.
  const absl::Time stalled = absl::Now();
  while (a.election.IsLeader()) absl::SleepFor(absl::Milliseconds(20));
  const absl::Duration acted = absl::Now() - stalled;
  // (Generous: a loaded machine may oversleep the polls.)
  EXPECT_LE(acted, kLeaderConfirmationValid + absl::Seconds(1));
  EXPECT_EQ(a.election.LeaderAddress(), "");  // not confirmed: nobody named
  // b gets the lock once the server ended a's idle session.
  const absl::Time deadline = absl::Now() + kLeaderConnectionDeadAfter + absl::Seconds(10);
  while (!b.election.IsLeader() && absl::Now() < deadline) {
    b.election.Step();
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(b.election.IsLeader());
  EXPECT_GE(absl::Now() - stalled, kLeaderConnectionDeadAfter - absl::Milliseconds(500));
  a.election.Step();  // finds its session gone
  EXPECT_FALSE(a.election.IsLeader());
  EXPECT_EQ(a.step_downs, 1);
  a.election.Step();  // a follower now
  EXPECT_EQ(a.election.LeaderAddress(), "b:7400");
}

}  // namespace
}  // namespace sluice::controller
