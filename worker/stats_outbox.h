// The stats half of the control protocol, without a network: deltas wait here
// until a report carries them, folded into one entry per pipeline version, so a
// worker cut off from the controller for any length of time holds at most one
// report in flight plus one pending entry per pipeline version it runs.
#ifndef SLUICE_WORKER_STATS_OUTBOX_H_
#define SLUICE_WORKER_STATS_OUTBOX_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "sluice/v1/stats.pb.h"

namespace sluice::worker {

// Adds `from` (a later interval) to `into` (same pipeline and version): counters
// add up; consumer lag is the later interval's (-1 for a partition it does not
// report); percentiles become the larger of the two, an upper bound of the
// percentile over both intervals (the controller aggregates with max too).
void MergePipelineStats(const v1::PipelineStats& from, v1::PipelineStats* into);

// Not thread-safe (the control client guards it).
//
// Exactly-once: the controller drops a report whose sequence it has seen. A report
// handed to the stream may have arrived even if the write failed, so once Next()
// has given it a sequence it is never changed: it is sent again as it is until a
// write succeeds. Only deltas that never went out are folded.
class StatsOutbox {
 public:
  // Reports carry `incarnation` (random per process) and sequences from
  // `first_sequence` up.
  StatsOutbox(uint64_t incarnation, uint64_t first_sequence)
      : incarnation_(incarnation), next_sequence_(first_sequence) {}

  // Deltas taken from the pipelines (one interval's); folded into the pending entry
  // of the same pipeline and version.
  void Add(std::vector<v1::PipelineStats> deltas);

  // The report to send: the one in flight again, else every pending entry under
  // the next sequence number, with interval_end = `now` (possibly no pipelines).
  const v1::StatsReport& Next(absl::Time now);
  // The report from Next() was written; the next one gets a new sequence.
  void Sent() { in_flight_.reset(); }

  bool has_in_flight() const { return in_flight_.has_value(); }
  // Pending entries in (pipeline, version) order.
  std::vector<v1::PipelineStats> pending() const;

 private:
  const uint64_t incarnation_;
  uint64_t next_sequence_;
  std::optional<v1::StatsReport> in_flight_;
  std::map<std::pair<std::string, uint64_t>, v1::PipelineStats> pending_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_STATS_OUTBOX_H_
