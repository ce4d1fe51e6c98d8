#include "tools/fleetsim/process_sampler.h"

#include <gtest/gtest.h>

namespace sluice::fleetsim {
namespace {

TEST(ProcessSamplerTest, ParsesStatus) {
  ProcessSample s;
  ASSERT_TRUE(ParseProcStatus("Name:\tsluice-control\nVmHWM:\t   40000 kB\nVmRSS:\t   32768 kB\n"
                              "Threads:\t415\n",
                              &s)
                  .ok());
  EXPECT_EQ(s.rss_bytes, 32768 * 1024);
  EXPECT_EQ(s.peak_rss_bytes, 40000 * 1024);
  EXPECT_EQ(s.threads, 415);
}

TEST(ProcessSamplerTest, StatusWithoutRssNamesIt) {
  ProcessSample s;
  const absl::Status status = ParseProcStatus("Name:\tkthreadd\nThreads:\t1\n", &s);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(status.message(), "no VmRSS in status");
}

// The command name may hold spaces and parentheses; fields count after the last ")".
TEST(ProcessSamplerTest, CpuTicksAfterTheCommandName) {
  const absl::StatusOr<int64_t> ticks = ParseProcStatCpuTicks(
      "1234 (odd) name (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100");
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_EQ(*ticks, 325);
}

TEST(ProcessSamplerTest, ShortStatIsAnError) {
  const absl::StatusOr<int64_t> ticks = ParseProcStatCpuTicks("1234 (x) S 1 2");
  EXPECT_EQ(ticks.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ticks.status().message(), "stat has no utime and stime");
}

TEST(ProcessSamplerTest, SamplesItself) {
  const absl::StatusOr<ProcessSample> s = ProcessSampler(0).Sample();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->rss_bytes, 0);
  EXPECT_GE(s->threads, 1);
}

}  // namespace
}  // namespace sluice::fleetsim
