#include "controller/stats_rollup_writer.h"

#include "gtest/gtest.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::ManualClock;

class FakeRollupStore : public StatsRollupStore {
 public:
  absl::Status SaveStatsRollups(const std::vector<MinuteRollup>& rollups,
                                absl::Time forget_before) override {
    ++calls;
    last_forget_before = forget_before;
    if (!next.ok()) return next;
    for (const MinuteRollup& r : rollups) stored[r.worker] = r.counters.rows;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<MinuteRollup>> LoadStatsRollups(absl::Time) override {
    return std::vector<MinuteRollup>();
  }

  absl::Status next = absl::OkStatus();
  int calls = 0;
  absl::Time last_forget_before;
  std::map<std::string, uint64_t> stored;
};

v1::StatsReport Report(uint64_t sequence, uint64_t rows) {
  v1::StatsReport r;
  r.set_sequence(sequence);
  v1::PipelineStats* p = r.add_pipelines();
  p->set_pipeline("items");
  p->add_partitions()->set_rows(rows);
  return r;
}

// A round that fails keeps what it took: the next round stores it (with anything
// newer for the same minute), so a database blip loses no minute.
TEST(StatsRollupWriterTest, AFailedRoundIsStoredByTheNext) {
  ManualClock clock;
  StatsAggregator stats(clock, absl::Hours(1));
  FakeRollupStore store;
  StatsRollupWriter writer(&stats, &store, clock, absl::Hours(1));
  ASSERT_TRUE(stats.Add("w1", "1.0", Report(1, 100)));
  store.next = absl::UnavailableError("database away");
  EXPECT_FALSE(writer.Flush().ok());
  EXPECT_TRUE(store.stored.empty());
  store.next = absl::OkStatus();
  ASSERT_TRUE(stats.Add("w2", "1.0", Report(1, 7)));
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_EQ(store.stored["w1"], 100u);
  EXPECT_EQ(store.stored["w2"], 7u);
  EXPECT_EQ(store.last_forget_before, clock.Now() - absl::Hours(1));
  // Nothing changed: an empty round (it still forgets what is too old).
  store.stored.clear();
  ASSERT_TRUE(writer.Flush().ok());
  EXPECT_TRUE(store.stored.empty());
}

}  // namespace
}  // namespace sluice::controller
