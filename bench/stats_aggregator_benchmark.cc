// The controller's stats at fleet scale (issue 10, "Stats that scale"): 1,000
// workers × 3 pipelines × 8 partitions reporting every 5 s for an hour, then the
// queries the controller makes: RowsPerSecond over a minute (every second, for
// its metrics), Health over a guard window (per ramp, every second), and
// `sluicectl stats` over five minutes and an hour. Prints the time of each and the
// resident memory the hour of buckets takes.
//
//   bazel run -c opt //bench:stats_aggregator_benchmark
#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "controller/stats_aggregator.h"

namespace sluice::controller {
namespace {

constexpr int kWorkers = 1000;
constexpr int kPipelines = 3;
constexpr int kPartitions = 8;
constexpr absl::Duration kInterval = absl::Seconds(5);

// Time as the benchmark says: an hour of reports is added in seconds.
class SteppedClock : public Clock {
 public:
  explicit SteppedClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override { return now_; }
  void SleepFor(absl::Duration d) const override { now_ += d; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  mutable absl::Time now_;
};

double ResidentMiB() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * 4096 / (1 << 20);
}

v1::StatsReport Report(uint64_t sequence, int worker) {
  v1::StatsReport r;
  r.set_sequence(sequence);
  r.set_incarnation(static_cast<uint64_t>(worker) + 1);
  for (int p = 0; p < kPipelines; ++p) {
    v1::PipelineStats* s = r.add_pipelines();
    s->set_pipeline(absl::StrCat("pipeline-", p));
    s->set_batches(10);
    s->set_retries(sequence % 7 == 0 ? 1 : 0);
    s->set_write_latency_p99_ms(12.5);
    s->set_freshness_p99_ms(180);
    s->set_kafka_path_items(4000);
    s->set_legacy_path_items(1000);
    for (const char* path : {"kafka", "legacy"}) {
      v1::PathStats* ps = s->add_paths();
      ps->set_path(path);
      ps->set_items(path[0] == 'k' ? 4000 : 1000);
      ps->set_freshness_p99_ms(180);
    }
    for (int part = 0; part < kPartitions; ++part) {
      v1::PartitionStats* ps = s->add_partitions();
      ps->set_topic(absl::StrCat("topic-", p));
      ps->set_partition(worker % 64 * kPartitions + part);
      ps->set_rows(625);
      ps->set_bytes(625 * 600);
      ps->set_consumer_lag(100);
    }
  }
  return r;
}

// One hour of reports, built once and shared by the benchmarks.
struct Hour {
  Hour() : clock(absl::FromUnixSeconds(1700000000)) {
    const double before = ResidentMiB();
    stats = std::make_unique<StatsAggregator>(clock, absl::Hours(1));
    const absl::Time start = absl::Now();
    uint64_t sequence = 0;
    for (absl::Duration t; t < absl::Hours(1); t += kInterval) {
      ++sequence;
      for (int w = 0; w < kWorkers; ++w) {
        stats->Add(absl::StrCat("worker-", w), w % 2 ? "1.4.0" : "1.5.0", Report(sequence, w));
      }
      clock.Advance(kInterval);
    }
    add_seconds = absl::ToDoubleSeconds(absl::Now() - start);
    reports = sequence * kWorkers;
    memory_mib = ResidentMiB() - before;
    std::printf(
        "one hour: %llu reports added in %.1f s (%.1f µs each); %zu bucket entries; "
        "resident memory +%.0f MiB\n",
        static_cast<unsigned long long>(reports), add_seconds,
        add_seconds * 1e6 / static_cast<double>(reports), stats->entries(), memory_mib);
  }
  SteppedClock clock;
  std::unique_ptr<StatsAggregator> stats;
  double add_seconds = 0;
  double memory_mib = 0;
  uint64_t reports = 0;
};

Hour& TheHour() {
  static Hour* hour = new Hour();
  return *hour;
}

void BM_RowsPerSecondOverAMinute(benchmark::State& state) {
  StatsAggregator& stats = *TheHour().stats;
  for (auto _ : state) benchmark::DoNotOptimize(stats.RowsPerSecond(absl::Minutes(1)));
}
BENCHMARK(BM_RowsPerSecondOverAMinute)->Unit(benchmark::kMillisecond);

void BM_HealthOverAFiveMinuteWindow(benchmark::State& state) {
  StatsAggregator& stats = *TheHour().stats;
  for (auto _ : state) {
    benchmark::DoNotOptimize(stats.Health({"pipeline-0"}, absl::Minutes(5)));
  }
}
BENCHMARK(BM_HealthOverAFiveMinuteWindow)->Unit(benchmark::kMillisecond);

void BM_QueryByPipeline(benchmark::State& state) {
  StatsAggregator& stats = *TheHour().stats;
  const absl::Duration window = absl::Minutes(state.range(0));
  for (auto _ : state) {
    benchmark::DoNotOptimize(stats.Query(v1::STATS_GROUP_BY_PIPELINE, window));
  }
}
BENCHMARK(BM_QueryByPipeline)->Arg(5)->Arg(60)->Unit(benchmark::kMillisecond);

void BM_QueryByWorkerOverAnHour(benchmark::State& state) {
  StatsAggregator& stats = *TheHour().stats;
  for (auto _ : state) {
    benchmark::DoNotOptimize(stats.Query(v1::STATS_GROUP_BY_WORKER, absl::Hours(1)));
  }
}
BENCHMARK(BM_QueryByWorkerOverAnHour)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice::controller

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  sluice::controller::TheHour();  // built before timing, printed once
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
