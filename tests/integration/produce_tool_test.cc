// sluice-produce --items-file: the benchmarks' rate-limited producer replays a
// data set's KEY<TAB>VALUE lines, in turn, to a real Kafka peer.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/fakes/runfiles.h"
#include "tests/fixtures/dev_kafka.h"
#include "tests/fixtures/subprocess.h"

namespace sluice::testing {
namespace {

// The topic's messages as "KEYLEN|KEY|VALUE" (KEYLEN -1: no key), sorted, and
// their Kafka timestamps in milliseconds.
void ConsumeWithKcat(const DevKafka& kafka, const std::string& topic,
                     std::vector<std::string>* messages, std::vector<int64_t>* timestamps) {
  const std::string out = TestTempDir() + "/kcat.out";
  absl::StatusOr<int> rc = RunCommand(
      {"kcat", "-C", "-b", kafka.bootstrap(), "-t", topic, "-e", "-q", "-f", "%T|%K|%k|%s\n"}, out,
      absl::Seconds(60));
  ASSERT_TRUE(rc.ok()) << rc.status();
  ASSERT_EQ(*rc, 0) << ReadFile(out);
  std::ifstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits('|', 1));
    ASSERT_EQ(fields.size(), 2u) << line;
    int64_t ts = 0;
    ASSERT_TRUE(absl::SimpleAtoi(fields[0], &ts)) << line;
    timestamps->push_back(ts);
    messages->push_back(fields[1]);
  }
  std::sort(messages->begin(), messages->end());
}

TEST(ProduceToolTest, TheItemsFilesLinesAreProducedInTurnWithTheirKeys) {
  absl::StatusOr<std::unique_ptr<DevKafka>> kafka = DevKafka::Start({"items:4"});
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  const std::string items = TestTempDir() + "/items.tsv";
  {
    std::ofstream out(items);
    // A CRLF line, a blank line (skipped), a line without a key and one with an
    // empty key.
    out << "a\t{\"n\":1}\r\n\nno-key-here\n\t{\"n\":3}\n";
  }
  const std::string out = TestTempDir() + "/produce.out";
  const int64_t before = absl::ToUnixMillis(absl::Now());
  absl::StatusOr<int> rc =
      RunCommand({RunfilePath("tools/produce/sluice-produce"), "--brokers", (*kafka)->bootstrap(),
                  "--topic", "items", "--items-file", items, "--count", "7", "--rate", "1000"},
                 out, absl::Seconds(60));
  const int64_t after = absl::ToUnixMillis(absl::Now());
  ASSERT_TRUE(rc.ok()) << rc.status();
  ASSERT_EQ(*rc, 0) << ReadFile(out);
  EXPECT_TRUE(absl::StartsWith(ReadFile(out), "produced 7 items")) << ReadFile(out);
  EXPECT_TRUE(absl::StrContains(ReadFile(out), ",\"late\":")) << ReadFile(out);
  std::vector<std::string> got;
  std::vector<int64_t> timestamps;
  ConsumeWithKcat(**kafka, "items", &got, &timestamps);
  // Items 0..6 cycle through the three items: a, (none), "", a, (none), "", a.
  const std::vector<std::string> want = {"-1||no-key-here", "-1||no-key-here", "0||{\"n\":3}",
                                         "0||{\"n\":3}",    "1|a|{\"n\":1}",   "1|a|{\"n\":1}",
                                         "1|a|{\"n\":1}"};
  EXPECT_EQ(got, want);
  // Each item is stamped when it is produced.
  for (int64_t ts : timestamps) {
    EXPECT_GE(ts, before);
    EXPECT_LE(ts, after);
  }
}

TEST(ProduceToolTest, AMissingOrEmptyItemsFileIsAUsageError) {
  const std::string blank = TestTempDir() + "/blank.tsv";
  {
    std::ofstream out(blank);
    out << "\n\r\n";
  }
  for (const auto& [path, reason] : std::vector<std::pair<std::string, std::string>>{
           {TestTempDir() + "/no-such-file.tsv", "cannot read"}, {blank, "has no items"}}) {
    const std::string out = TestTempDir() + "/usage.out";
    absl::StatusOr<int> rc = RunCommand({RunfilePath("tools/produce/sluice-produce"), "--brokers",
                                         "127.0.0.1:1", "--items-file", path},
                                        out, absl::Seconds(30));
    ASSERT_TRUE(rc.ok()) << rc.status();
    EXPECT_EQ(*rc, 2) << path;
    EXPECT_TRUE(absl::StrContains(ReadFile(out), reason)) << ReadFile(out);
  }
}

}  // namespace
}  // namespace sluice::testing
