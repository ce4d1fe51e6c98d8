// sluice-devkafka: a DEVELOPMENT Kafka broker for demos, tests and benchmarks.
//
// It wraps librdkafka's mock cluster (rdkafka_mock.h), which speaks the real Kafka
// wire protocol on loopback, so kcat, librdkafka and other Kafka clients reach it.
// It is not a Kafka server: data lives in memory, only about 5 MiB is kept per
// partition, and nothing is replicated or persisted. Never point production at it.
//
//   sluice-devkafka --brokers 1 --topic items:8 [--topic other:4] [--bootstrap-file PATH]
//
// Prints the bootstrap servers as the first line of stdout, serves until SIGINT or
// SIGTERM, and exits 0.
//
// Fault injection, for scripts and tests (scripts/faults):
//   kill -USR1 PID   takes every broker down: open connections are closed and new
//                    ones refused until...
//   kill -USR2 PID   brings every broker back up (same ports, data kept).
// Each change is complete (rd_kafka_mock_broker_set_down/_up return after the mock
// thread applied it) before the line "sluice-devkafka: brokers down" or
// "sluice-devkafka: brokers up" is written to stderr, so a script can wait for it.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/arg_parser.h"

namespace {

struct TopicSpec {
  std::string name;
  int partitions = 1;
};

absl::Status ParseTopic(absl::string_view text, std::vector<TopicSpec>* topics) {
  TopicSpec spec;
  const size_t colon = text.rfind(':');
  spec.name = std::string(text.substr(0, colon));
  if (colon != absl::string_view::npos &&
      (!absl::SimpleAtoi(text.substr(colon + 1), &spec.partitions) || spec.partitions < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not NAME[:PARTITIONS] with PARTITIONS >= 1"));
  }
  if (spec.name.empty()) return absl::InvalidArgumentError("empty topic name");
  topics->push_back(spec);
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  int64_t brokers = 1;
  std::string bootstrap_file;
  std::vector<TopicSpec> topics;
  sluice::ArgParser parser("sluice-devkafka");
  parser.AddInt("brokers", &brokers, "number of mock brokers (default 1)");
  parser.AddCustom(
      "topic", [&topics](absl::string_view v) { return ParseTopic(v, &topics); },
      "NAME[:PARTITIONS] to create (repeatable)");
  parser.AddString("bootstrap-file", &bootstrap_file, "also write the bootstrap servers here");
  absl::Status parsed = parser.Parse(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "sluice-devkafka: %s\n", std::string(parsed.message()).c_str());
    return 2;
  }
  if (parser.help_requested()) {
    std::cout << "sluice-devkafka: a development Kafka broker (librdkafka mock cluster)\n"
              << parser.Usage()
              << "Signals: SIGUSR1 takes every broker down, SIGUSR2 brings them back up;\n"
                 "SIGINT or SIGTERM stops.\n";
    return 0;
  }
  if (brokers < 1 || brokers > 16) {
    std::fprintf(stderr, "sluice-devkafka: --brokers: must be 1..16\n");
    return 2;
  }

  // Block the handled signals before any thread starts, then wait for them below.
  sigset_t handled_signals;
  sigemptyset(&handled_signals);
  sigaddset(&handled_signals, SIGINT);
  sigaddset(&handled_signals, SIGTERM);
  sigaddset(&handled_signals, SIGUSR1);
  sigaddset(&handled_signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &handled_signals, nullptr);

  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    std::fprintf(stderr, "sluice-devkafka: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, static_cast<int>(brokers));
  if (cluster == nullptr) {
    std::fprintf(stderr, "sluice-devkafka: cannot start the mock cluster\n");
    return 1;
  }
  for (const TopicSpec& t : topics) {
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(cluster, t.name.c_str(), t.partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "sluice-devkafka: creating topic %s: %s\n", t.name.c_str(),
                   rd_kafka_err2str(err));
      return 1;
    }
  }
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
  std::cout << bootstraps << std::endl;
  std::cerr << "sluice-devkafka: DEVELOPMENT broker (in-memory librdkafka mock cluster, ~5 MiB "
               "kept per partition) serving "
            << bootstraps << std::endl;
  if (!bootstrap_file.empty()) {
    const std::string tmp = bootstrap_file + ".tmp";
    std::ofstream(tmp) << bootstraps << "\n";
    std::rename(tmp.c_str(), bootstrap_file.c_str());
  }

  for (int sig = 0; sigwait(&handled_signals, &sig) == 0 && sig != SIGINT && sig != SIGTERM;) {
    const bool up = sig == SIGUSR2;
    // Broker id -1: every broker. Neither call moves partition leadership.
    const rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(cluster, -1)
                                       : rd_kafka_mock_broker_set_down(cluster, -1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "sluice-devkafka: setting brokers " << (up ? "up" : "down") << ": "
                << rd_kafka_err2str(err) << std::endl;
      continue;
    }
    std::cerr << "sluice-devkafka: brokers " << (up ? "up" : "down") << std::endl;
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
