// Every metric the worker and the controller export is documented in
// docs/METRICS.md, and nothing documented there is gone.
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "controller/controller_metrics.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "worker/worker_metrics.h"

namespace sluice {
namespace {

std::string ReadDoc() {
  std::ifstream in("docs/METRICS.md");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The families of `registry`, with every series they can have in use.
std::set<std::string> Families(prometheus::Registry& registry) {
  std::set<std::string> names;
  for (const prometheus::MetricFamily& f : registry.Collect()) names.insert(f.name);
  return names;
}

TEST(MetricsDocTest, EveryExportedMetricIsDocumented) {
  const std::string doc = ReadDoc();
  ASSERT_FALSE(doc.empty()) << "docs/METRICS.md not found";
  prometheus::Registry registry;
  worker::WorkerMetrics w(registry, "p", "g");
  worker::WorkerMetrics::RegisterBuildInfo(registry, "test");
  w.SetLag({{{"t", 0}, 3, 10, absl::Seconds(1)}});
  w.WriteRetried("unavailable");
  worker::ClientView view;
  view.fetched[{"t", 0}] = {5, 500};
  view.brokers.push_back({"1", absl::Milliseconds(1), absl::Milliseconds(2)});
  w.SetClientView(view);
  worker::Batch batch;
  batch.reason = ::sluice::v1::FLUSH_REASON_ROWS;
  w.BatchWritten(batch, worker::WriteResult{}, absl::Milliseconds(1), absl::Now());
  controller::ControllerMetrics c(registry);
  c.SetWorkersConnected({{"v1", 1}});
  c.SetRowsPerSecond({{{"p", "v1"}, 1.0}});
  c.SetRowsReported({{{"p", "v1"}, 1}});
  c.SetFlagdSyncStreams(1);
  c.OfrepAnswered(200);
  c.SetDeadLetters({{"p", {1, 0, 0}}}, absl::Now());
  ::sluice::v1::FlagSnapshot flags;
  ::sluice::v1::Flag* f = flags.add_flags();
  f->set_name("f");
  f->mutable_ramp();  // for sluice_controller_ramp_state
  c.SetFlags(flags, absl::Now());
  const std::set<std::string> names = Families(registry);
  EXPECT_GE(names.size(), 40u);
  for (const std::string& name : names) {
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos) << name << " is not in METRICS.md";
  }
  // And the tables list nothing that no longer exists.
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const std::string name = line.substr(3, line.find('`', 3) - 3);
    EXPECT_EQ(names.count(name), 1u) << name << " is documented but not exported";
  }
}

}  // namespace
}  // namespace sluice
