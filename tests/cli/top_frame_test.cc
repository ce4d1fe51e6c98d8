#include "cli/top_frame.h"

#include "gtest/gtest.h"

namespace sluice::cli {
namespace {

size_t Columns(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

TopSnapshot Snapshot() {
  TopSnapshot s;
  s.at = absl::FromUnixSeconds(1700000000);
  s.controller = "ctl:7400";
  v1::WorkerInfo* w = s.workers.add_workers();
  w->set_worker_id("worker-with-a-very-long-pod-name-0123456789");
  w->set_build_version("1.4.2");
  w->set_connected(true);
  w->add_pipelines("items");
  w->set_applied_config_version("v7");
  v1::StatsRow* r = s.by_worker.add_rows();
  r->set_key(w->worker_id());
  r->set_rows_per_second(25000);
  r->set_consumer_lag(1200);
  v1::Pipeline* p = s.pipelines.add_pipelines();
  p->mutable_config()->set_name("itéms-ünïcode-name-that-is-long");
  p->mutable_config()->mutable_rollout()->set_flag("kafka-ingest");
  r = s.by_pipeline.add_rows();
  r->set_key(p->config().name());
  r->set_rows_per_second(25000);
  r->set_freshness_p99_ms(180);
  r->set_consumer_lag_seconds(0.4);
  r->set_lag_status(v1::LAG_STATUS_WARN);
  r->set_dead_letters_pending(3);
  r->set_kafka_path_items(900);
  r->set_legacy_path_items(100);
  v1::Flag* f = s.flags.add_flags();
  f->set_name("kafka-ingest");
  v1::PercentageChange* c = f->add_schedule();
  c->mutable_effective_time()->set_seconds(1600000000);
  c->set_basis_points(3750);
  return s;
}

TEST(TopFrameTest, FitsEightyColumnsAndShowsWhatMatters) {
  const std::vector<std::string> lines = RenderTopFrame(Snapshot(), 80);
  std::string all;
  for (const std::string& l : lines) {
    EXPECT_EQ(Columns(l), 80u) << l;
    all += l + "\n";
  }
  EXPECT_NE(all.find("WORKERS (1)"), std::string::npos) << all;
  EXPECT_NE(all.find("worker-with-a-very-~"), std::string::npos) << all;  // cut, marked
  EXPECT_NE(all.find("25k"), std::string::npos) << all;
  EXPECT_NE(all.find("v7"), std::string::npos) << all;
  EXPECT_NE(all.find("0.18s"), std::string::npos) << all;
  EXPECT_NE(all.find("WARN"), std::string::npos) << all;
  EXPECT_NE(all.find("37.50%"), std::string::npos) << all;
  EXPECT_NE(all.find("itéms-ünïcode-n~"), std::string::npos) << all;
}

TEST(TopFrameTest, NarrowTerminalsAndErrors) {
  for (const std::string& l : RenderTopFrame(Snapshot(), 20)) EXPECT_EQ(Columns(l), 40u) << l;
  TopSnapshot s = Snapshot();
  s.error = "the controller did not answer: unavailable";
  const std::vector<std::string> lines = RenderTopFrame(s, 100);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[2].substr(0, 31), "the controller did not answer: ");
}

}  // namespace
}  // namespace sluice::cli
