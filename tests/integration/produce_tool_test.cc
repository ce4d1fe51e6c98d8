// sluice-produce --items-file: the benchmarks' rate-limited producer replays a
// data set's KEY<TAB>VALUE lines, in turn, to a real Kafka peer.
#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/fixtures/dev_kafka.h"
#include "tests/fixtures/subprocess.h"

namespace sluice::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(ProduceToolTest, TheItemsFilesLinesAreProducedInTurnWithTheirKeys) {
  absl::StatusOr<std::unique_ptr<DevKafka>> kafka = DevKafka::Start({"items:4"});
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  const std::string items = TestTempDir() + "/items.tsv";
  {
    std::ofstream out(items);
    out << "a\t{\"n\":1}\nb\t{\"n\":2,\"s\":\"tab\\\\t\"}\nc\t{\"n\":3}\n";
  }
  const std::string out = TestTempDir() + "/produce.out";
  absl::StatusOr<int> rc =
      RunCommand({RunfilePath("tools/produce/sluice-produce"), "--brokers", (*kafka)->bootstrap(),
                  "--topic", "items", "--items-file", items, "--count", "7", "--rate", "1000"},
                 out, absl::Seconds(60));
  ASSERT_TRUE(rc.ok()) << rc.status();
  ASSERT_EQ(*rc, 0) << ReadAll(out);
  EXPECT_TRUE(absl::StartsWith(ReadAll(out), "produced 7 items")) << ReadAll(out);
  absl::StatusOr<std::vector<std::string>> consumed = (*kafka)->ConsumeAll("items");
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  std::vector<std::string> got = *consumed;
  std::sort(got.begin(), got.end());
  // Items 0..6 cycle through the three lines: a, b, c, a, b, c, a.
  const std::vector<std::string> want = {"a\t{\"n\":1}",
                                         "a\t{\"n\":1}",
                                         "a\t{\"n\":1}",
                                         "b\t{\"n\":2,\"s\":\"tab\\\\t\"}",
                                         "b\t{\"n\":2,\"s\":\"tab\\\\t\"}",
                                         "c\t{\"n\":3}",
                                         "c\t{\"n\":3}"};
  EXPECT_EQ(got, want);
}

TEST(ProduceToolTest, AMissingItemsFileIsAUsageError) {
  const std::string out = TestTempDir() + "/missing.out";
  absl::StatusOr<int> rc =
      RunCommand({RunfilePath("tools/produce/sluice-produce"), "--brokers", "127.0.0.1:1",
                  "--items-file", TestTempDir() + "/no-such-file.tsv"},
                 out, absl::Seconds(30));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 2);
  EXPECT_TRUE(absl::StrContains(ReadAll(out), "--items-file: cannot read")) << ReadAll(out);
}

}  // namespace
}  // namespace sluice::testing
