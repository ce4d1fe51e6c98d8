#include "tools/fleetsim/latency_summary.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace sluice::fleetsim {
namespace {

// `sorted` is not empty.
double NearestRank(const std::vector<double>& sorted, double q) {
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

LatencySummary Summarize(std::vector<double> samples_ms) {
  LatencySummary s;
  s.count = samples_ms.size();
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  s.p50_ms = NearestRank(samples_ms, 0.50);
  s.p99_ms = NearestRank(samples_ms, 0.99);
  s.max_ms = samples_ms.back();
  return s;
}

std::string FormatSummary(const LatencySummary& s) {
  if (s.count == 0) return "no samples";
  return absl::StrFormat("p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d)", s.p50_ms, s.p99_ms,
                         s.max_ms, s.count);
}

std::string SummaryJson(const LatencySummary& s) {
  return absl::StrFormat(R"({"count":%d,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f})", s.count,
                         s.p50_ms, s.p99_ms, s.max_ms);
}

}  // namespace sluice::fleetsim
