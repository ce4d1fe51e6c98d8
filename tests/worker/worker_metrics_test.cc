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
  WorkerMetrics metrics(registry, "items", "g");
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

// Issue 12: the lag under kafka_exporter's name (clamped at 0), the lag in
// seconds only while known, and freshness per message in one histogram update.
TEST(WorkerMetricsTest, LagUnderKafkaExportersNameLagInSecondsAndFreshness) {
  prometheus::Registry registry;
  WorkerMetrics metrics(registry, "items", "sluice-items");
  PartitionLag known{{"items", 0}, 4, 104, absl::Milliseconds(1500)};
  PartitionLag unknown{{"items", 1}, -1, -1, std::nullopt};
  metrics.SetLag({known, unknown});
  std::string page = Scrape(registry);
  EXPECT_NE(page.find("kafka_consumergroup_lag{consumergroup=\"sluice-items\",partition=\"0\","
                      "topic=\"items\"} 4"),
            std::string::npos)
      << page;
  // Unknown: no series (an absent() alert sees it), not a made-up 0.
  EXPECT_EQ(page.find("kafka_consumergroup_lag{consumergroup=\"sluice-items\",partition=\"1\""),
            std::string::npos);
  EXPECT_NE(page.find("sluice_consumer_lag_seconds{partition=\"0\",pipeline=\"items\","
                      "topic=\"items\"} 1.5"),
            std::string::npos);
  EXPECT_EQ(page.find("sluice_consumer_lag_seconds{partition=\"1\""), std::string::npos);
  known.lag_time.reset();
  metrics.SetLag({known});
  page = Scrape(registry);
  EXPECT_EQ(page.find("sluice_consumer_lag_seconds{"), std::string::npos) << page;

  Batch batch;
  const absl::Time commit = absl::FromUnixSeconds(1700000000);
  for (absl::Duration age : {absl::Milliseconds(20), absl::Milliseconds(20), absl::Seconds(2)}) {
    Message& m = batch.messages.emplace_back();
    m.timestamp = commit - age;
  }
  batch.messages.emplace_back();  // no timestamp: not counted
  metrics.BatchWritten(batch, WriteResult{}, absl::Milliseconds(5), commit);
  page = Scrape(registry);
  EXPECT_NE(page.find("sluice_freshness_seconds_bucket{pipeline=\"items\",le=\"0.025\"} 2"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("sluice_freshness_seconds_bucket{pipeline=\"items\",le=\"2.5\"} 3"),
            std::string::npos);
  EXPECT_NE(page.find("sluice_freshness_seconds_count{pipeline=\"items\"} 3"), std::string::npos);
  EXPECT_NE(page.find("sluice_freshness_seconds_sum{pipeline=\"items\"} 2.04"), std::string::npos);
}

// The client's totals per partition become per-topic counters of their growth;
// a total that goes down started over.
TEST(WorkerMetricsTest, TheKafkaClientsViewPerTopicAndBroker) {
  prometheus::Registry registry;
  WorkerMetrics metrics(registry, "items", "g");
  ClientView view;
  view.fetched[{"items", 0}] = {10, 1000};
  view.fetched[{"items", 1}] = {5, 500};
  view.brokers.push_back({"1", absl::Microseconds(800), absl::Milliseconds(3)});
  metrics.SetClientView(view);
  view.fetched[{"items", 0}] = {12, 1200};
  view.fetched[{"items", 1}] = {2, 200};  // forgotten and fetched again
  metrics.SetClientView(view);
  const std::string page = Scrape(registry);
  EXPECT_NE(page.find("sluice_kafka_fetched_messages_total{pipeline=\"items\",topic=\"items\"} 19"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("sluice_kafka_fetched_bytes_total{pipeline=\"items\",topic=\"items\"} 1900"),
            std::string::npos);
  EXPECT_NE(
      page.find("sluice_kafka_broker_rtt_seconds{broker=\"1\",pipeline=\"items\",stat=\"p99\"} "
                "0.003"),
      std::string::npos);
  metrics.Stopped();
  EXPECT_EQ(Scrape(registry).find("sluice_kafka_broker_rtt_seconds{"), std::string::npos);
}

}  // namespace
}  // namespace sluice::worker
