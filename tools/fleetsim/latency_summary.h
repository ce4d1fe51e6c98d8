// p50/p99/max of a set of latencies, the figures fleetsim prints for every phase.
#ifndef SLUICE_TOOLS_FLEETSIM_LATENCY_SUMMARY_H_
#define SLUICE_TOOLS_FLEETSIM_LATENCY_SUMMARY_H_

#include <cstddef>
#include <string>
#include <vector>

namespace sluice::fleetsim {

struct LatencySummary {
  // How many samples; the percentiles are 0 when there are none.
  size_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentiles (the sample at rank ceil(q * n)), as the worker's
// stats use: every figure is a latency some stream really saw, never an
// interpolation between two.
LatencySummary Summarize(std::vector<double> samples_ms);

// "p50 12.3 ms, p99 45.6 ms, max 78.9 ms (n=200)".
std::string FormatSummary(const LatencySummary& s);
// {"count":200,"p50_ms":12.3,"p99_ms":45.6,"max_ms":78.9}
std::string SummaryJson(const LatencySummary& s);

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_LATENCY_SUMMARY_H_
