// The worker's Prometheus series.
#include "worker/worker_metrics.h"

#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace sluice::worker {
namespace {

std::string Scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

// Regression (issue 7.13): the lag series of a stopped pipeline were never removed.
TEST(WorkerMetricsTest, AStoppedPipelineHasNoLagSeries) {
  prometheus::Registry registry;
  WorkerMetrics metrics(registry, "items");
  metrics.SetLag({{{"items", 0}, 5}, {{"items", 1}, 7}});
  metrics.SetStalledPartitions(1);
  metrics.SetPaused(true);
  std::string before = Scrape(registry);
  EXPECT_NE(before.find("sluice_consumer_lag_messages{partition=\"1\",pipeline=\"items\","
                        "topic=\"items\"} 7"),
            std::string::npos)
      << before;
  metrics.Stopped();
  std::string after = Scrape(registry);
  EXPECT_EQ(after.find("sluice_consumer_lag_messages{"), std::string::npos) << after;
  EXPECT_NE(after.find("sluice_partitions_stalled{pipeline=\"items\"} 0"), std::string::npos);
  EXPECT_NE(after.find("sluice_pipeline_paused{pipeline=\"items\"} 0"), std::string::npos);
  // A partition that goes away stops being reported too.
  metrics.SetLag({{{"items", 0}, 5}, {{"items", 1}, 7}});
  metrics.SetLag({{{"items", 1}, 3}});
  after = Scrape(registry);
  EXPECT_EQ(after.find("partition=\"0\""), std::string::npos) << after;
}

}  // namespace
}  // namespace sluice::worker
