// The controller's StateStore against a real PostgreSQL.
#include "controller/state_store.h"

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "common/proto_time.h"
#include "controller/flag_scheduler.h"
#include "flags/flag_schedule.h"
#include "gtest/gtest.h"
#include "tests/fixtures/postgres_server.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::PgDatabase;
using ::sluice::testing::PostgresServer;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PostgresServer>> server = PostgresServer::SharedOrPrivate();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    absl::StatusOr<PgDatabase> db = server_->CreateDatabase("state_store");
    ASSERT_TRUE(db.ok()) << db.status();
    absl::StatusOr<std::unique_ptr<StateStore>> store = StateStore::Open({db->ConnectionString()});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    db_ = std::make_unique<PgDatabase>(std::move(*db));
  }

  std::unique_ptr<PostgresServer> server_;
  std::unique_ptr<PgDatabase> db_;
  std::unique_ptr<StateStore> store_;
};

// Found by review (issue 10): schedules stored before changes had kinds read as all
// sets, so a rollback recorded then replayed as a set and the next rollback went
// forward to the percentage it had undone. The first start of a controller that
// records kinds marks them unknown, once; a rollback does not go back past them.
TEST_F(StateStoreTest, ChangesStoredBeforeKindsAreMarkedUnknownOnce) {
  absl::StatusOr<PgDatabase> db = server_->CreateDatabase("state_store_kinds");
  ASSERT_TRUE(db.ok()) << db.status();
  {
    absl::StatusOr<std::unique_ptr<StateStore>> old = StateStore::Open({db->ConnectionString()});
    ASSERT_TRUE(old.ok()) << old.status();
    v1::Flag flag;
    flag.set_name("kafka-ingest");
    flag.set_salt("kafka-ingest");
    v1::Flag f = *(*old)->CreateFlag(flag, "ops");
    // 10 %, 50 % (bad), then a rollback to 10 %, all stored as sets.
    for (uint32_t bp : {1000u, 5000u, 1000u}) {
      v1::PercentageChange* c = f.add_schedule();
      c->mutable_effective_time()->set_seconds(1000 * f.schedule_size());
      c->set_basis_points(bp);
    }
    ASSERT_TRUE((*old)->UpdateFlag(f, 1, "flag.set", "ops", absl::InfiniteFuture()).ok());
  }
  // The database as an older controller left it: no state_revision table.
  db->Exec("DROP TABLE sluice_controller.state_revision");
  absl::StatusOr<std::unique_ptr<StateStore>> upgraded = StateStore::Open({db->ConnectionString()});
  ASSERT_TRUE(upgraded.ok()) << upgraded.status();
  v1::Flag f = *(*upgraded)->GetFlag("kafka-ingest");
  for (const v1::PercentageChange& c : f.schedule()) {
    EXPECT_EQ(c.kind(), v1::PercentageChange::KIND_UNKNOWN);
  }
  // Not forward to 50 %: nothing before the marked changes is known to go back to.
  EXPECT_EQ(ScheduleRollback(f, absl::FromUnixSeconds(5000), absl::Seconds(30)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Later changes have kinds; a later start marks nothing again.
  v1::Flag set = *ScheduleChange(f, 3000, absl::FromUnixSeconds(6000), absl::FromUnixSeconds(5000),
                                 absl::Seconds(30));
  ASSERT_TRUE(
      (*upgraded)->UpdateFlag(set, f.version(), "flag.set", "ops", absl::InfiniteFuture()).ok());
  upgraded->reset();
  absl::StatusOr<std::unique_ptr<StateStore>> again = StateStore::Open({db->ConnectionString()});
  ASSERT_TRUE(again.ok()) << again.status();
  v1::Flag read = *(*again)->GetFlag("kafka-ingest");
  ASSERT_EQ(read.schedule_size(), 4);
  EXPECT_EQ(read.schedule(3).kind(), v1::PercentageChange::KIND_SET);
  absl::StatusOr<v1::Flag> back =
      ScheduleRollback(read, absl::FromUnixSeconds(7000), absl::Seconds(30));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(flags::FlagSchedule(*back).BasisPointsAt(absl::FromUnixSeconds(8000)), 1000u);
}

// Found by review: UpdateFlag copied back only the schedule and the ramp, so a
// compacted schedule was stored without its schedule_kept_since.
TEST_F(StateStoreTest, ACompactedScheduleKeepsItsCutThroughTheStore) {
  v1::Flag flag;
  flag.set_name("kafka-ingest");
  flag.set_salt("kafka-ingest");
  absl::StatusOr<v1::Flag> created = store_->CreateFlag(flag, "ops");
  ASSERT_TRUE(created.ok()) << created.status();
  v1::Flag changed = *created;
  for (int i = 0; i < 4; ++i) {
    v1::PercentageChange* c = changed.add_schedule();
    c->mutable_effective_time()->set_seconds(1000 * (i + 1));
    c->set_basis_points(1000 * (i + 1));
  }
  ASSERT_EQ(flags::CompactSchedule(absl::FromUnixSeconds(3500), &changed), 1);
  absl::StatusOr<v1::Flag> stored =
      store_->UpdateFlag(changed, 1, "flag.set", "ops", absl::InfiniteFuture());
  ASSERT_TRUE(stored.ok()) << stored.status();
  absl::StatusOr<v1::Flag> read = store_->GetFlag("kafka-ingest");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->schedule_kept_since().seconds(), 2000);
  ASSERT_EQ(read->schedule_size(), 3);
  EXPECT_EQ(ToAbslTime(read->schedule(0).effective_time()), flags::CompactedScheduleStart());
  EXPECT_EQ(stored->schedule_kept_since().seconds(), 2000);
  absl::StatusOr<std::vector<v1::Flag>> all = store_->ListFlags();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].schedule_kept_since().seconds(), 2000);
  // A later change without compaction keeps the cut.
  v1::Flag later = *read;
  later.add_schedule()->mutable_effective_time()->set_seconds(9000);
  ASSERT_TRUE(store_->UpdateFlag(later, 2, "flag.set", "ops", absl::InfiniteFuture()).ok());
  EXPECT_EQ(store_->GetFlag("kafka-ingest")->schedule_kept_since().seconds(), 2000);
}

// Issue 10, the propagation lead as a guarantee: a schedule barrier waits for
// every flag write holding the schedule lock, so the state read after it holds
// them all; and a write that gets the lock after its deadline is refused, so no
// write slips in behind a barrier with a schedule computed before it.
TEST_F(StateStoreTest, TheScheduleBarrierWaitsForFlagWritesInProgress) {
  const std::string key = std::to_string(kScheduleLockKey);
  {
    // A flag write in progress (as UpdateFlag holds it): shared, until commit.
    PgDatabase::Session writer = db_->OpenSession();
    writer.Exec("BEGIN");
    writer.Exec("SELECT pg_advisory_xact_lock_shared(" + key + ")");
    std::atomic<bool> passed{false};
    absl::Time returned_at;
    std::thread barrier([&] {
      absl::StatusOr<absl::Time> at = store_->ScheduleBarrier();
      ASSERT_TRUE(at.ok()) << at.status();
      returned_at = absl::Now();
      // Read before it asked for the lock: no later than when it held it.
      EXPECT_LE(*at, returned_at);
      passed = true;
    });
    absl::SleepFor(absl::Milliseconds(700));
    EXPECT_FALSE(passed.load()) << "the barrier passed a write in progress";
    const absl::Time committed = absl::Now();
    writer.Exec("COMMIT");
    barrier.join();
    EXPECT_TRUE(passed.load());
    EXPECT_GE(returned_at, committed);
  }
  v1::Flag flag;
  flag.set_name("kafka-ingest");
  flag.set_salt("kafka-ingest");
  ASSERT_TRUE(store_->CreateFlag(flag, "ops").ok());
  flag.set_version(1);
  flag.add_schedule()->mutable_effective_time()->set_seconds(4000000000);
  {
    // A barrier in progress: a write waits for it, and is refused if that takes
    // it past its deadline.
    PgDatabase::Session barrier = db_->OpenSession();
    barrier.Exec("BEGIN");
    barrier.Exec("SELECT pg_advisory_xact_lock(" + key + ")");
    std::thread release([&] {
      absl::SleepFor(absl::Milliseconds(500));
      barrier.Exec("COMMIT");
    });
    absl::StatusOr<v1::Flag> late =
        store_->UpdateFlag(flag, 1, "flag.set", "ops", absl::Now() + absl::Milliseconds(200));
    release.join();
    EXPECT_EQ(late.status().code(), absl::StatusCode::kAborted) << late.status();
    EXPECT_TRUE(absl::StrContains(late.status().message(), "after its deadline")) << late.status();
  }
  EXPECT_EQ(store_->GetFlag("kafka-ingest")->version(), 1u) << "nothing written";
  absl::StatusOr<v1::Flag> in_time =
      store_->UpdateFlag(flag, 1, "flag.set", "ops", absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(in_time.ok()) << in_time.status();
  EXPECT_EQ(in_time->version(), 2u);
}

}  // namespace
// Issue 10: the stats' 1 min rollups survive in PostgreSQL for the next leader;
// a minute stored again replaces its row, and what is older than the retention
// is forgotten.
TEST_F(StateStoreTest, StatsRollupsRoundTripReplaceAndExpire) {
  const absl::Time minute = absl::FromUnixSeconds(60 * 28333333);
  MinuteRollup r{minute, "w1", "items", "1.0'quoted", {}};
  r.counters.rows = 150;
  r.counters.bytes = 1500;
  r.counters.batches = 2;
  r.counters.freshness_p99_ms = 12.5;
  r.counters.kafka.items = 100;
  r.counters.kafka.freshness_p99_ms = 9.25;
  r.counters.legacy.items = 50;
  MinuteRollup old = r;
  old.minute = minute - absl::Hours(2);
  ASSERT_TRUE(store_->SaveStatsRollups({r, old}, minute - absl::Hours(3)).ok());
  r.counters.rows = 175;  // the same minute, later: replaces
  ASSERT_TRUE(store_->SaveStatsRollups({r}, minute - absl::Hours(1)).ok());
  absl::StatusOr<std::vector<MinuteRollup>> loaded =
      store_->LoadStatsRollups(minute - absl::Hours(5));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 1u) << "the 2 h old minute was forgotten";
  const MinuteRollup& got = (*loaded)[0];
  EXPECT_EQ(got.minute, minute);
  EXPECT_EQ(got.worker, "w1");
  EXPECT_EQ(got.pipeline, "items");
  EXPECT_EQ(got.version, "1.0'quoted");
  EXPECT_EQ(got.counters.rows, 175u);
  EXPECT_EQ(got.counters.bytes, 1500u);
  EXPECT_EQ(got.counters.batches, 2u);
  EXPECT_EQ(got.counters.freshness_p99_ms, 12.5);
  EXPECT_EQ(got.counters.kafka.items, 100u);
  EXPECT_EQ(got.counters.kafka.freshness_p99_ms, 9.25);
  EXPECT_EQ(got.counters.legacy.items, 50u);
  EXPECT_TRUE(store_->LoadStatsRollups(minute + absl::Minutes(1))->empty());
}

}  // namespace sluice::controller
