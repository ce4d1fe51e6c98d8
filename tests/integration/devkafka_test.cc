// The development broker speaks real Kafka: kcat produces to it and consumes from it.
#include <signal.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/fixtures/dev_kafka.h"
#include "tests/fixtures/subprocess.h"

namespace sluice::testing {
namespace {

TEST(DevKafkaTest, KcatProducesAndConsumes) {
  absl::StatusOr<std::unique_ptr<DevKafka>> kafka = DevKafka::Start({"events:4", "other:2"});
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  EXPECT_EQ((*kafka)->bootstrap().rfind("127.0.0.1:", 0), 0u) << (*kafka)->bootstrap();
  std::vector<std::string> lines;
  for (int i = 0; i < 1000; ++i) lines.push_back(absl::StrCat("key-", i % 7, "\tvalue-", i));
  ASSERT_TRUE((*kafka)->Produce("events", lines).ok());
  absl::StatusOr<std::vector<std::string>> consumed = (*kafka)->ConsumeAll("events");
  ASSERT_TRUE(consumed.ok()) << consumed.status();
  std::vector<std::string> got = *consumed;
  std::sort(got.begin(), got.end());
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(got, lines);
  absl::StatusOr<std::vector<std::string>> other = (*kafka)->ConsumeAll("other");
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->empty());
}

TEST(DevKafkaTest, PrintsBootstrapFirstAndExitsZeroOnSigterm) {
  const std::string log = TestTempDir() + "/devkafka-stdout.log";
  absl::StatusOr<Subprocess> p = Subprocess::Start(
      {RunfilePath("tools/devkafka/sluice-devkafka"), "--brokers", "2", "--topic", "t:3"}, log);
  ASSERT_TRUE(p.ok());
  std::string first_line;
  for (int i = 0; i < 300 && first_line.empty(); ++i) {
    std::string out = p->ReadLog();
    const size_t nl = out.find('\n');
    if (nl != std::string::npos) first_line = out.substr(0, nl);
    if (first_line.empty()) p->Wait(absl::Milliseconds(50));
  }
  // Two brokers: "127.0.0.1:P1,127.0.0.1:P2".
  EXPECT_EQ(std::count(first_line.begin(), first_line.end(), ','), 1) << first_line;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(absl::Seconds(10)), 0);
}

TEST(DevKafkaTest, BadFlagsExitTwo) {
  absl::StatusOr<int> rc =
      RunCommand({RunfilePath("tools/devkafka/sluice-devkafka"), "--topic", "t:zero"},
                 TestTempDir() + "/devkafka-bad.log", absl::Seconds(10));
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 2);
}

}  // namespace
}  // namespace sluice::testing
