// Issue 10, the propagation lead as a guarantee: a worker routes an item only
// within the flag schedule the controller confirmed; later items wait (their
// partition held), for at most the hold limit, then go to dead letters.
#include <google/protobuf/util/json_util.h>
#include <signal.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/proto_time.h"
#include "flags/flag_schedule.h"
#include "gtest/gtest.h"
#include "tests/integration/control_plane_test_base.h"

namespace sluice::testing {
namespace {

class ScheduleHorizonTest : public ControlPlaneTest {
 protected:
  void StartRollout() {
    ASSERT_EQ(Ctl({"flags", "create", "kafka-ingest"}).code, 0);
    CreateItems({"--rollout-flag", "kafka-ingest", "--routing-key", "kafka-key", "--legacy",
                 "table:legacy_items"});
  }

  // The seqs in `table`.
  std::set<int> Seqs(const std::string& table) {
    std::set<int> out;
    const int64_t n = db_.QueryInt(absl::StrCat("SELECT count(*) FROM ", table));
    for (int64_t i = 0; i < n; ++i) {
      out.insert(static_cast<int>(db_.QueryInt(absl::StrCat(
          "SELECT (payload->>'seq')::int FROM ", table, " ORDER BY 1 OFFSET ", i, " LIMIT 1"))));
    }
    return out;
  }

  bool AllRead(int n) {
    return TablesExist() &&
           db_.QueryInt("SELECT coalesce(sum(next_offset), 0) FROM sluice_offsets") == n;
  }
};

// A worker cut off from the controller (stopped, as a partition would) while a
// change is made through another controller and takes effect: before this, the
// worker kept routing items stamped after the change at the old percentage.
TEST_F(ScheduleHorizonTest, AWorkerCutOffAcrossAScheduledChangeRoutesEveryItemByItsTimestamp) {
  auto w = Worker("w1");
  StartRollout();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] { return w->HttpGet("/ready") == "200 ready\n"; }, absl::Seconds(60)));
  absl::StatusOr<std::unique_ptr<ControllerProcess>> other =
      ControllerProcess::Start(db_, ControllerArgs());
  ASSERT_TRUE(other.ok()) << other.status();

  controller_->process().Signal(SIGSTOP);  // the worker hears nothing from here on
  // The hung leader's lock session goes idle and the server ends it: the other
  // replica leads (the worker, given only the first address, stays cut off).
  ASSERT_TRUE(
      WaitFor([&] { return absl::StartsWith(HttpGet((*other)->metrics_port(), "/leader"), "200"); },
              absl::Seconds(20), absl::Milliseconds(100)));
  const absl::Time cut = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  CtlResult set =
      Sluicectl((*other)->address(), {"--json", "flags", "set", "kafka-ingest", "--percent", "100",
                                      "--in", "2s", "--expected-version", "1"});
  ASSERT_EQ(set.code, 0) << set.output;
  v1::Flag flag;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(set.output, &flag).ok());
  const absl::Time effective = ToAbslTime(flag.schedule(0).effective_time());
  // Items stamped from before the cut to well after the change.
  std::vector<DevKafka::Record> records;
  for (int i = 0; i < 1000; ++i)
    records.push_back(Item(i, cut - absl::Seconds(1) + absl::Milliseconds(6 * i)));
  ASSERT_TRUE(kafka_->ProduceRecords("items", records).ok());
  // The worker holds what it cannot know, and says so.
  EXPECT_TRUE(WaitFor(
      [&] { return w->Metric("sluice_partitions_held_for_schedule{pipeline=\"items\"}") >= 1; },
      absl::Seconds(10)));
  EXPECT_TRUE(absl::StrContains(w->HttpGet("/ready"),
                                "later than the flag schedule this worker "
                                "knows"));
  // Cut off until the change is in effect (the old rule routed by 0% from here).
  while (absl::Now() < effective + absl::Seconds(1)) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_LT(db_.QueryInt("SELECT coalesce(sum(next_offset), 0) FROM sluice_offsets"), 1000);
  controller_->process().Signal(SIGCONT);

  ASSERT_TRUE(WaitFor([&] { return AllRead(1000); }, absl::Seconds(60)));
  const flags::FlagSchedule schedule(CtlJson<v1::Flag>({"flags", "get", "kafka-ingest"}));
  std::set<int> kafka, legacy;
  for (int i = 0; i < 1000; ++i) {
    (schedule.Evaluate(records[i].key, records[i].timestamp).in_rollout ? kafka : legacy).insert(i);
  }
  ASSERT_GT(kafka.size(), 100u);
  ASSERT_GT(legacy.size(), 100u);
  EXPECT_EQ(Seqs("raw_items"), kafka);
  EXPECT_EQ(Seqs("legacy_items"), legacy);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters"), 0);
  EXPECT_GE(w->Metric("sluice_schedule_holds_total{pipeline=\"items\"}"), 1);
  EXPECT_TRUE(WaitFor(
      [&] { return w->Metric("sluice_partitions_held_for_schedule{pipeline=\"items\"}") == 0; },
      absl::Seconds(10)));
}

// A producer clock far ahead: the item cannot be known within the hold limit; it
// goes to dead letters with its reason, on neither path, and the rest flows.
class ShortHoldTest : public ScheduleHorizonTest {
 protected:
  ShortHoldTest() { schedule_hold_limit_ = absl::Seconds(3); }
};

TEST_F(ShortHoldTest, AnItemStampedFarAheadGoesToDeadLettersAfterTheHoldLimit) {
  auto w = Worker("w1");
  StartRollout();
  ASSERT_TRUE(WaitFor([&] { return AppliedEverywhere("items", 1, 1); }, absl::Seconds(30)));
  ASSERT_TRUE(WaitFor([&] { return w->HttpGet("/ready") == "200 ready\n"; }, absl::Seconds(60)));
  const absl::Time now = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
  std::vector<DevKafka::Record> records;
  for (int i = 0; i < 50; ++i) {
    records.push_back(Item(i, i == 20 ? now + absl::Hours(1) : now - absl::Seconds(1)));
  }
  ASSERT_TRUE(kafka_->ProduceRecords("items", records).ok());
  ASSERT_TRUE(WaitFor([&] { return AllRead(50); }, absl::Seconds(60)));
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_dead_letters WHERE error LIKE "
                         "'timestamp beyond the known schedule%' AND "
                         "convert_from(payload, 'UTF8') LIKE '%\"seq\":20}'"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM legacy_items"), 49) << "0%: the legacy path";
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items"), 0);
  // The worker counts a batch after its transaction commits, so the counters may
  // trail the offsets just read by a moment.
  EXPECT_TRUE(WaitFor(
      [&] {
        return w->Metric("sluice_items_beyond_known_schedule_total{pipeline=\"items\"}") == 1;
      },
      absl::Seconds(10)));
  // On neither path in the stats the guards read.
  EXPECT_TRUE(WaitFor(
      [&] { return w->Metric("sluice_items_total{path=\"legacy\",pipeline=\"items\"}") == 49; },
      absl::Seconds(10)));
  EXPECT_EQ(w->Metric("sluice_items_beyond_known_schedule_total{pipeline=\"items\"}"), 1);
  EXPECT_EQ(w->Metric("sluice_items_total{path=\"legacy\",pipeline=\"items\"}"), 49);
}

}  // namespace
}  // namespace sluice::testing
