// The controller's gauges follow what they are set to, and a pipeline that is
// gone loses its series instead of reporting its last value forever.
#include "controller/controller_metrics.h"

#include <map>
#include <string>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace sluice::controller {
namespace {

std::string Scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(ControllerMetricsTest, DeadLettersByPipelineAndState) {
  prometheus::Registry registry;
  ControllerMetrics metrics(registry);
  metrics.SetDeadLetters({{"orders", {3, 1, 0}}, {"views", {0, 0, 2}}},
                         absl::FromUnixSeconds(1700000000));
  std::string page = Scrape(registry);
  EXPECT_NE(page.find("sluice_controller_dead_letters{pipeline=\"orders\",state=\"pending\"} 3"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("sluice_controller_dead_letters{pipeline=\"orders\",state=\"replayed\"} 1"),
            std::string::npos);
  EXPECT_NE(page.find("sluice_controller_dead_letters{pipeline=\"views\",state=\"discarded\"} 2"),
            std::string::npos);
  // views was deleted; orders' letters were replayed.
  EXPECT_NE(page.find("sluice_controller_dead_letters_counted_at_timestamp_seconds 1700000000"),
            std::string::npos)
      << page;
  // The old name, kept for a deprecation window, carries the same value.
  EXPECT_NE(page.find("sluice_controller_dead_letters_counted_at_seconds 1700000000"),
            std::string::npos);
  metrics.SetDeadLetters({{"orders", {0, 4, 0}}}, absl::FromUnixSeconds(1700000010));
  page = Scrape(registry);
  EXPECT_EQ(page.find("pipeline=\"views\""), std::string::npos) << page;
  EXPECT_NE(page.find("sluice_controller_dead_letters{pipeline=\"orders\",state=\"pending\"} 0"),
            std::string::npos);
  EXPECT_NE(page.find("sluice_controller_dead_letters{pipeline=\"orders\",state=\"replayed\"} 4"),
            std::string::npos);
}

// Issue 12: rows as a counter (a rate as a gauge lingered on an old leader and
// was summed twice after a failover).
TEST(ControllerMetricsTest, RowsReportedIsACounterOfTheTotals) {
  prometheus::Registry registry;
  ControllerMetrics metrics(registry);
  metrics.SetRowsReported({{{"orders", "1.0"}, 100}, {{"orders", "1.1"}, 7}});
  metrics.SetRowsReported({{{"orders", "1.0"}, 250}, {{"orders", "1.1"}, 7}});
  const std::string page = Scrape(registry);
  EXPECT_NE(page.find("# TYPE sluice_controller_rows_reported_total counter"), std::string::npos)
      << page;
  EXPECT_NE(
      page.find("sluice_controller_rows_reported_total{pipeline=\"orders\",version=\"1.0\"} 250"),
      std::string::npos)
      << page;
  EXPECT_NE(
      page.find("sluice_controller_rows_reported_total{pipeline=\"orders\",version=\"1.1\"} 7"),
      std::string::npos);
}

}  // namespace
}  // namespace sluice::controller
