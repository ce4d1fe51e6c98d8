// The development broker speaks real Kafka: kcat produces to it and consumes from it.
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/fixtures/dev_kafka.h"
#include "tests/fixtures/subprocess.h"
#include "tests/fixtures/wait.h"

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

// Counts the client's "lost the brokers" errors (they arrive as events, not messages).
class BrokerErrorCounter : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override {
    if (event.type() == RdKafka::Event::EVENT_ERROR &&
        (event.err() == RdKafka::ERR__TRANSPORT || event.err() == RdKafka::ERR__ALL_BROKERS_DOWN)) {
      ++count_;
    }
  }
  int count() const { return count_; }

 private:
  std::atomic<int> count_{0};
};

std::vector<std::string> KeyedLines(int from, int to) {
  std::vector<std::string> lines;
  for (int i = from; i < to; ++i) lines.push_back(absl::StrCat("key-", i % 5, "\tvalue-", i));
  return lines;
}

// Fault injection for scripts/faults: SIGUSR1 takes the brokers down, SIGUSR2 brings
// them back. While down, no client gets metadata or data; once up, a consumer that
// was connected before carries on and new data flows end to end.
TEST(DevKafkaTest, BrokersGoDownOnSigusr1AndComeBackOnSigusr2) {
  absl::StatusOr<std::unique_ptr<DevKafka>> kafka = DevKafka::Start({"events:2"});
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  ASSERT_TRUE((*kafka)->Produce("events", KeyedLines(0, 100)).ok());

  // A consumer connected before the outage, reading both partitions from the start.
  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  ASSERT_EQ(conf->set("bootstrap.servers", (*kafka)->bootstrap(), error), RdKafka::Conf::CONF_OK);
  ASSERT_EQ(conf->set("group.id", "devkafka-test", error), RdKafka::Conf::CONF_OK);
  ASSERT_EQ(conf->set("enable.auto.commit", "false", error), RdKafka::Conf::CONF_OK);
  ASSERT_EQ(conf->set("fetch.wait.max.ms", "50", error), RdKafka::Conf::CONF_OK);
  ASSERT_EQ(conf->set("reconnect.backoff.max.ms", "200", error), RdKafka::Conf::CONF_OK);
  BrokerErrorCounter broker_errors;
  ASSERT_EQ(conf->set("event_cb", &broker_errors, error), RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(
      RdKafka::KafkaConsumer::create(conf.get(), error));
  ASSERT_TRUE(consumer) << error;
  std::vector<RdKafka::TopicPartition*> partitions = {
      RdKafka::TopicPartition::create("events", 0, RdKafka::Topic::OFFSET_BEGINNING),
      RdKafka::TopicPartition::create("events", 1, RdKafka::Topic::OFFSET_BEGINNING)};
  ASSERT_EQ(consumer->assign(partitions), RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(partitions);
  std::vector<std::string> received;
  auto consume_once = [&] {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(50));
    if (m->err() == RdKafka::ERR_NO_ERROR) {
      received.push_back(absl::StrCat(*m->key(), "\t",
                                      std::string(static_cast<const char*>(m->payload()),
                                                  m->len())));
    }
  };
  ASSERT_TRUE(WaitFor([&] { consume_once(); return received.size() >= 100; },
                      absl::Seconds(30), absl::ZeroDuration()))
      << received.size();

  ASSERT_TRUE((*kafka)->SetBrokersUp(false).ok());
  // The connected consumer loses its connection...
  EXPECT_TRUE(WaitFor([&] { consume_once(); return broker_errors.count() > 0; },
                      absl::Seconds(10), absl::ZeroDuration()));
  // ...and a new client cannot even get metadata, let alone fetch.
  const std::string kcat_log = TestTempDir() + "/devkafka-down-kcat.log";
  absl::StatusOr<int> rc = RunCommand({"kcat", "-C", "-b", (*kafka)->bootstrap(), "-t", "events",
                                       "-e", "-q", "-m", "2", "-f", "%k\t%s\n"},
                                      kcat_log, absl::Seconds(30));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_NE(*rc, 0);
  absl::StatusOr<int> list_rc = RunCommand({"kcat", "-L", "-b", (*kafka)->bootstrap(), "-m", "2"},
                                           kcat_log, absl::Seconds(30));
  ASSERT_TRUE(list_rc.ok()) << list_rc.status();
  EXPECT_NE(*list_rc, 0);
  EXPECT_EQ(received.size(), 100u);

  ASSERT_TRUE((*kafka)->SetBrokersUp(true).ok());
  ASSERT_TRUE((*kafka)->Produce("events", KeyedLines(100, 200)).ok());
  // The consumer from before the outage reconnects and reads on from where it was.
  EXPECT_TRUE(WaitFor([&] { consume_once(); return received.size() >= 200; },
                      absl::Seconds(30), absl::ZeroDuration()))
      << received.size();
  consumer->close();
  std::vector<std::string> expected = KeyedLines(0, 200);
  std::sort(expected.begin(), expected.end());
  std::sort(received.begin(), received.end());
  EXPECT_EQ(received, expected);
  absl::StatusOr<std::vector<std::string>> all = (*kafka)->ConsumeAll("events");
  ASSERT_TRUE(all.ok()) << all.status();
  std::sort(all->begin(), all->end());
  EXPECT_EQ(*all, expected);
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
