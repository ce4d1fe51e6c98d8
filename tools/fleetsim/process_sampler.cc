#include "tools/fleetsim/process_sampler.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace sluice::fleetsim {
namespace {

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path, " (process gone?)"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The number after "Name:" in /proc/PID/status ("VmRSS:\t  1234 kB" gives 1234).
bool StatusField(absl::string_view status, absl::string_view name, int64_t* value) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, name) || !absl::ConsumePrefix(&line, ":")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    return absl::SimpleAtoi(line, value);
  }
  return false;
}

}  // namespace

absl::Status ParseProcStatus(absl::string_view status, ProcessSample* sample) {
  int64_t rss_kib = 0, hwm_kib = 0, threads = 0;
  if (!StatusField(status, "VmRSS", &rss_kib)) return absl::InternalError("no VmRSS in status");
  if (!StatusField(status, "Threads", &threads)) {
    return absl::InternalError("no Threads in status");
  }
  // VmHWM is missing for kernel threads only; a peak below the current is no peak.
  if (!StatusField(status, "VmHWM", &hwm_kib)) hwm_kib = rss_kib;
  sample->rss_bytes = rss_kib * 1024;
  sample->peak_rss_bytes = hwm_kib * 1024;
  sample->threads = threads;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseProcStatCpuTicks(absl::string_view stat) {
  const size_t paren = stat.rfind(')');
  if (paren == absl::string_view::npos) return absl::InternalError("no ')' in stat");
  // After ")": field 3 (state) onwards; utime and stime are fields 14 and 15.
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(paren + 1), ' ', absl::SkipEmpty());
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3;
  int64_t utime = 0, stime = 0;
  if (fields.size() <= kStime || !absl::SimpleAtoi(fields[kUtime], &utime) ||
      !absl::SimpleAtoi(fields[kStime], &stime)) {
    return absl::InternalError("stat has no utime and stime");
  }
  return utime + stime;
}

ProcessSampler::ProcessSampler(int pid)
    : dir_(pid == 0 ? "/proc/self" : absl::StrCat("/proc/", pid)),
      ticks_per_second_(static_cast<double>(sysconf(_SC_CLK_TCK))) {}

absl::StatusOr<ProcessSample> ProcessSampler::Sample() const {
  ProcessSample sample;
  sample.at = absl::Now();
  absl::StatusOr<std::string> status = ReadWhole(dir_ + "/status");
  if (!status.ok()) return status.status();
  absl::StatusOr<std::string> stat = ReadWhole(dir_ + "/stat");
  if (!stat.ok()) return stat.status();
  if (absl::Status s = ParseProcStatus(*status, &sample); !s.ok()) {
    return absl::InternalError(absl::StrCat(dir_, "/status: ", s.message()));
  }
  absl::StatusOr<int64_t> ticks = ParseProcStatCpuTicks(*stat);
  if (!ticks.ok())
    return absl::InternalError(absl::StrCat(dir_, "/stat: ", ticks.status().message()));
  sample.cpu_seconds = static_cast<double>(*ticks) / ticks_per_second_;
  return sample;
}

}  // namespace sluice::fleetsim
