// Reads a process's resident memory, CPU time and thread count from /proc, so
// fleetsim can put the controller's cost next to the latencies it measures.
#ifndef SLUICE_TOOLS_FLEETSIM_PROCESS_SAMPLER_H_
#define SLUICE_TOOLS_FLEETSIM_PROCESS_SAMPLER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sluice::fleetsim {

struct ProcessSample {
  absl::Time at;
  // utime + stime: user and system CPU of every thread, in seconds.
  double cpu_seconds = 0;
  // VmRSS and VmHWM (peak resident), in bytes.
  int64_t rss_bytes = 0;
  int64_t peak_rss_bytes = 0;
  int64_t threads = 0;
};

// Samples one process. Thread-compatible.
class ProcessSampler {
 public:
  // `pid` 0 samples this process.
  explicit ProcessSampler(int pid);

  // NOT_FOUND when the process is gone, INTERNAL when /proc says something this
  // parser does not understand.
  absl::StatusOr<ProcessSample> Sample() const;

 private:
  std::string dir_;
  double ticks_per_second_;
};

// The pure halves of Sample(), for tests. /proc/PID/status: "VmRSS:  1234 kB",
// "VmHWM: ...", "Threads: 7"; INTERNAL naming the missing field.
absl::Status ParseProcStatus(absl::string_view status, ProcessSample* sample);
// /proc/PID/stat: utime and stime (fields 14 and 15, in clock ticks) counted
// after the ")" that ends the command name, which may itself hold spaces and
// parentheses. Returns their sum in ticks; INTERNAL when the line is too short.
absl::StatusOr<int64_t> ParseProcStatCpuTicks(absl::string_view stat);

}  // namespace sluice::fleetsim

#endif  // SLUICE_TOOLS_FLEETSIM_PROCESS_SAMPLER_H_
