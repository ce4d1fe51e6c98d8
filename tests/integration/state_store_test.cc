// The controller's StateStore against a real PostgreSQL.
#include "controller/state_store.h"

#include "common/proto_time.h"
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
  }

  std::unique_ptr<PostgresServer> server_;
  std::unique_ptr<StateStore> store_;
};

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
  absl::StatusOr<v1::Flag> stored = store_->UpdateFlag(changed, 1, "flag.set", "ops");
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
  ASSERT_TRUE(store_->UpdateFlag(later, 2, "flag.set", "ops").ok());
  EXPECT_EQ(store_->GetFlag("kafka-ingest")->schedule_kept_since().seconds(), 2000);
}

}  // namespace
}  // namespace sluice::controller
