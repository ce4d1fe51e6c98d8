// sluice-produce: a load generator that plays the API tier. It produces JSON items
// for N projects at a set rate to a Kafka topic, keyed by project id, each stamped
// with the time it was made. Given a controller and a flag, it also decides with
// the shared flags library which path each item belongs to — the decision a legacy
// system would make to skip what the Kafka path takes — and reports the counts.
//
//   sluice-produce --brokers HOST:PORT --topic items [--projects 100] [--rate 1000]
//                  [--count N | --duration 30s] [--invalid-every N]
//                  [--items-file PATH] [--controller HOST:PORT --flag NAME]
//
// With --items-file it produces that file's lines (KEY<TAB>VALUE, e.g.
// bench/realistic_items.py's) in turn, cycling, instead of generated items; each
// is still stamped with the time it is produced. The summary counts the items
// sent over 10 ms after their due time (the producer fell behind its rate). The benchmarks use it
// as their rate-limited producer: librdkafka in C++ costs a fraction of a core at rates a Python
// producer needs a whole core for, on a machine the producer shares with the system it measures.
//
// Prints a summary line on exit: "produced N items (K kafka path, L legacy path)",
// and the same as JSON on the last line.
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/arg_parser.h"
#include "common/controller_channel.h"
#include "flags/flag_client.h"

namespace {

// How long an item may wait for the flag client to know the schedule at its
// timestamp (the controller unreachable) before the tool gives up.
constexpr absl::Duration kMaxFlagWait = absl::Seconds(30);

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

struct ProduceOptions {
  std::string brokers;
  std::string topic = "items";
  int64_t projects = 100;
  int64_t rate = 1000;
  int64_t count = 0;
  absl::Duration duration = absl::ZeroDuration();
  int64_t invalid_every = 0;
  std::string controller;
  std::string token_file;
  std::string tls_ca;
  bool allow_plaintext_token = false;
  std::string flag;
  std::string items_file;
};

// One line of --items-file.
struct FileItem {
  std::optional<std::string> key;  // none: the line had no tab
  std::string value;
};

// KEY<TAB>VALUE lines ("\tVALUE": an empty key; no tab: no key). A trailing CR
// is dropped and blank lines are skipped.
absl::StatusOr<std::vector<FileItem>> ReadItems(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--items-file: cannot read ", path));
  std::vector<FileItem> items;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      items.push_back({std::nullopt, line});
    } else {
      items.push_back({line.substr(0, tab), line.substr(tab + 1)});
    }
  }
  if (items.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--items-file: ", path, " has no items"));
  }
  return items;
}

// An item produced this long after its due time counts as late: the producer
// fell behind its rate (and caught up in a burst, each item stamped when sent).
constexpr absl::Duration kLateAfter = absl::Milliseconds(10);

}  // namespace

int main(int argc, char** argv) {
  ProduceOptions o;
  sluice::ArgParser p("sluice-produce");
  p.AddString("brokers", &o.brokers, "Kafka bootstrap servers");
  p.AddString("topic", &o.topic, "topic (default items)");
  p.AddInt("projects", &o.projects, "number of project ids (default 100)");
  p.AddInt("rate", &o.rate, "items per second (default 1000)");
  p.AddInt("count", &o.count, "stop after this many items");
  p.AddSeconds("duration", &o.duration, "stop after this long");
  p.AddInt("invalid-every", &o.invalid_every, "make every Nth item malformed JSON");
  p.AddString("controller", &o.controller, "controller, to evaluate --flag per item");
  p.AddString("flag", &o.flag, "rollout flag to report paths for");
  p.AddString("items-file", &o.items_file,
              "produce this file's KEY<TAB>VALUE lines in turn instead of generated items");
  p.AddString("token-file", &o.token_file,
              "file holding a controller token with the read role (or set SLUICE_TOKEN)");
  p.AddString("tls-ca", &o.tls_ca, "PEM CA of the controller's certificate: connect with TLS");
  p.AddBool("allow-plaintext-token", &o.allow_plaintext_token,
            "send the token without TLS to a controller beyond this machine");
  absl::Status parsed = p.Parse(argc, argv);
  if (parsed.ok() && !p.help_requested()) {
    if (o.brokers.empty()) parsed = absl::InvalidArgumentError("--brokers is required");
    else if (o.projects < 1) parsed = absl::InvalidArgumentError("--projects: must be at least 1");
    else if (o.rate < 1) parsed = absl::InvalidArgumentError("--rate: must be at least 1");
    else if (o.flag.empty() != o.controller.empty())
      parsed = absl::InvalidArgumentError("--flag and --controller go together");
  }
  sluice::ControllerConnection controller{o.controller, "", o.tls_ca};
  controller.allow_plaintext_token = o.allow_plaintext_token;
  if (parsed.ok() && !p.help_requested() && !o.controller.empty()) {
    absl::StatusOr<std::string> token =
        sluice::ReadClientToken(o.token_file, "--token-file", sluice::SluiceTokenFromEnvironment());
    if (token.ok()) controller.token = *token; else parsed = token.status();
  }
  std::vector<FileItem> items;
  if (parsed.ok() && !p.help_requested() && !o.items_file.empty()) {
    absl::StatusOr<std::vector<FileItem>> read = ReadItems(o.items_file);
    if (read.ok())
      items = std::move(*read);
    else
      parsed = read.status();
  }
  if (!parsed.ok()) {
    std::fprintf(stderr, "sluice-produce: %s (see --help)\n", std::string(parsed.message()).c_str());
    return 2;
  }
  if (p.help_requested()) {
    std::cout << p.Usage();
    return 0;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::string error;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", o.brokers, error);
  conf->set("linger.ms", "5", error);
  conf->set("enable.idempotence", "true", error);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) {
    std::fprintf(stderr, "sluice-produce: %s\n", error.c_str());
    return 1;
  }
  // The embeddable client keeps the flags current through Flags.Watch.
  std::unique_ptr<sluice::flags::FlagClient> flags;
  if (!o.flag.empty()) {
    absl::StatusOr<std::unique_ptr<sluice::flags::FlagClient>> created =
        sluice::flags::FlagClient::Create(controller);
    if (!created.ok()) {
      std::fprintf(stderr, "sluice-produce: %s\n", std::string(created.status().message()).c_str());
      return 2;
    }
    flags = std::move(*created);
    if (!flags->WaitForSnapshot(absl::Seconds(10))) {
      const absl::Status why = flags->Evaluate(o.flag, "", absl::Now()).status();
      std::fprintf(stderr, "sluice-produce: %s\n", std::string(why.message()).c_str());
      return 1;
    }
  }

  std::mt19937 rng(7);
  const char* events[] = {"page_view", "click", "signup", "purchase", "error"};
  const absl::Time start = absl::Now();
  int64_t produced = 0, kafka_path = 0, legacy_path = 0, flag_waits = 0, late = 0;
  std::optional<absl::Time> waiting_since;
  while (!g_stop) {
    if (o.count > 0 && produced >= o.count) break;
    if (o.duration > absl::ZeroDuration() && absl::Now() - start >= o.duration) break;
    // Pace: item n is due at start + n / rate.
    const absl::Time due = start + absl::Seconds(static_cast<double>(produced) / o.rate);
    if (absl::Now() < due) {
      producer->poll(0);
      absl::SleepFor(std::min(due - absl::Now(), absl::Milliseconds(5)));
      continue;
    }
    const absl::Time now = absl::Now();
    // The item's key and value: generated, or a line of --items-file (copied
    // only when --invalid-every truncates it).
    std::string generated;
    std::string key_storage;
    const std::string* key = &key_storage;
    bool has_key = true;
    const std::string* value = &generated;
    if (items.empty()) {
      const int64_t project = static_cast<int64_t>(rng() % o.projects) + 1;
      generated = absl::StrCat("{\"project_id\":", project, ",\"item_id\":\"it-", produced,
                               "\",\"event\":\"", events[rng() % 5],
                               "\",\"ts_ms\":", absl::ToUnixMillis(now), "}");
      key_storage = absl::StrCat(project);
    } else {
      const FileItem& item = items[static_cast<size_t>(produced) % items.size()];
      has_key = item.key.has_value();
      if (has_key) key = &*item.key;
      value = &item.value;
    }
    if (o.invalid_every > 0 && produced % o.invalid_every == o.invalid_every - 1) {
      if (value != &generated) generated = *value;
      generated.resize(generated.size() / 2);
      value = &generated;
    }
    if (flags) {
      // The same decision the workers make: key and timestamp as they will see them.
      absl::StatusOr<sluice::flags::Evaluation> e =
          flags->Evaluate(o.flag, *key, absl::FromUnixMillis(absl::ToUnixMillis(now)));
      if (absl::IsUnavailable(e.status()) && !g_stop) {
        // Beyond the schedule the client knows (the controller has not confirmed
        // it lately): the item waits, as a worker holds it, rather than be routed
        // on a guess. It is produced with a fresh timestamp when the client knows.
        if (!waiting_since) waiting_since = now;
        if (now - *waiting_since < kMaxFlagWait) {
          if (flag_waits++ % 100 == 0) {
            std::fprintf(stderr, "sluice-produce: waiting: %s\n",
                         std::string(e.status().message()).c_str());
          }
          producer->poll(50);  // serves delivery reports meanwhile
          continue;
        }
      }
      if (!e.ok()) {
        std::fprintf(stderr, "sluice-produce: %s\n", std::string(e.status().message()).c_str());
        return 1;
      }
      waiting_since.reset();
      (e->in_rollout ? kafka_path : legacy_path)++;
    }
    RdKafka::ErrorCode err = producer->produce(
        o.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(value->data()), value->size(), has_key ? key->data() : nullptr,
        has_key ? key->size() : 0, absl::ToUnixMillis(now), nullptr);
    if (err == RdKafka::ERR__QUEUE_FULL) {
      producer->poll(10);
      continue;
    }
    if (err != RdKafka::ERR_NO_ERROR) {
      std::fprintf(stderr, "sluice-produce: %s\n", RdKafka::err2str(err).c_str());
      return 1;
    }
    if (now - due > kLateAfter) ++late;
    // Behind its rate the loop never sleeps: serve librdkafka's events anyway.
    if (produced % 1000 == 0) producer->poll(0);
    ++produced;
  }
  if (producer->flush(30000) != RdKafka::ERR_NO_ERROR) {
    std::fprintf(stderr, "sluice-produce: not every item was acknowledged\n");
    return 1;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::cout << "produced " << produced << " items in " << seconds << "s";
  if (flags) std::cout << " (" << kafka_path << " kafka path, " << legacy_path << " legacy path)";
  std::cout << "; " << late << " sent over " << absl::FormatDuration(kLateAfter)
            << " after their due time";
  std::cout << "\n{\"produced\":" << produced << ",\"kafka_path\":" << kafka_path
            << ",\"legacy_path\":" << legacy_path << ",\"late\":" << late << "}\n";
  return 0;
}
