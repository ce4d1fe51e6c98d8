// sluice-fleetsim: a fleet load simulator for the controller. One process opens N
// simulated worker streams (WorkerControl.Connect, gRPC's callback API: no thread
// per stream) that say Hello, ACK every assignment and report stats like real
// workers; it changes a rollout flag K times and measures how long each change
// takes to reach every stream and be ACKed, and samples the controller's RSS,
// CPU and threads from /proc.
//
//   sluice-fleetsim --controller HOST:PORT --workers N [--connect-rate 100]
//                   [--flag NAME --flag-changes K --flag-change-every 10s]
//                   [--setup-pipelines M --setup-flag NAME] [--controller-pid PID]
//                   [--idle-window 20s] [--duration D]
//
// Prints the figures as lines, then all of them as one JSON line (the last line).
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/arg_parser.h"
#include "common/controller_channel.h"
#include "tools/fleetsim/fleetsim_config.h"
#include "tools/fleetsim/fleetsim_run.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// Each simulated worker holds a connection (a descriptor); the soft limit is often
// 1024 while the hard one allows far more.
void RaiseOpenFileLimit() {
  struct rlimit limit = {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

int main(int argc, char** argv) {
  sluice::fleetsim::FleetsimConfig c;
  sluice::fleetsim::SimulatedFleetConfig& f = c.fleet;
  std::string token_file, admin_token_file, tls_ca;
  bool allow_plaintext_token = false;
  int64_t workers = 10, streams_per_connection = 1, flag_changes = 0, setup_pipelines = 0,
          setup_desired_workers = 0, controller_pid = 0, partitions = 8, seed = 1;
  double connect_rate = 100, items_per_second = 50;
  sluice::ArgParser p("sluice-fleetsim");
  p.AddString("controller", &f.controller.address, "controller HOST:PORT (required)");
  p.AddString("token-file", &token_file,
              "file holding a controller token (or set SLUICE_TOKEN): the worker role for the "
              "streams, admin for setup and flag changes");
  p.AddString("admin-token-file", &admin_token_file,
              "a separate admin token for the Admin calls (default: --token-file's)");
  p.AddString("tls-ca", &tls_ca, "PEM CA of the controller's certificate: connect with TLS");
  p.AddBool("allow-plaintext-token", &allow_plaintext_token,
            "send the token without TLS to a controller beyond this machine");
  p.AddInt("workers", &workers, 1, 1000000, "simulated worker streams (default 10)");
  p.AddCustom(
      "connect-rate",
      [&](absl::string_view v) {
        if (!absl::SimpleAtod(v, &connect_rate) || connect_rate <= 0) {
          return absl::InvalidArgumentError("must be a number greater than 0");
        }
        return absl::OkStatus();
      },
      "streams opened per second (default 100)");
  p.AddInt("streams-per-connection", &streams_per_connection, 1, 1000000,
           "streams sharing one HTTP/2 connection (default 1: one per worker, as real workers)");
  p.AddString("build-version", &f.build_version, "Hello.build_version (default fleetsim)");
  p.AddString("id-prefix", &f.id_prefix, "worker ids are PREFIX0.. (default fleetsim-)");
  p.AddSeconds("duration", &c.duration,
               "hold the streams at least this long from the first one opened (default: end "
               "after the measurements)");
  p.AddSeconds("connect-timeout", &c.connect_timeout,
               "how long the streams may take to ACK a first assignment (default workers / "
               "connect rate + 60s)");
  p.AddSeconds("idle-window", &c.idle_window,
               "after connecting, measure the controller's CPU with stats only for this long "
               "(default 20s; 0: skip)");
  p.AddString("flag", &c.flag, "flag to change through the Admin API");
  p.AddInt("flag-changes", &flag_changes, 0, 100000, "how many changes of --flag (default 0)");
  p.AddSeconds("flag-change-every", &c.flag_change_every, "time between changes (default 10s)");
  p.AddSeconds("flag-change-timeout", &c.flag_change_timeout,
               "how long a change may take to reach every stream (default 30s)");
  p.AddInt("setup-pipelines", &setup_pipelines, 0, 100000,
           "create this many pipelines with a rollout on --setup-flag first (existing ones stay)");
  p.AddString("setup-flag", &c.setup_flag, "flag the set-up pipelines use (default --flag)");
  p.AddInt("setup-desired-workers", &setup_desired_workers, 0, 256,
           "desired_workers of each set-up pipeline (default min(workers, 256))");
  p.AddString("pipeline-prefix", &c.pipeline_prefix, "set-up pipelines' names (default fleetsim-)");
  p.AddInt("controller-pid", &controller_pid, 0, 1 << 30,
           "sample this process's RSS, CPU and threads from /proc");
  p.AddInt("partitions-per-pipeline", &partitions, 0, 100000,
           "partitions each worker reports per pipeline (default 8)");
  p.AddCustom(
      "items-per-second",
      [&](absl::string_view v) {
        if (!absl::SimpleAtod(v, &items_per_second) || items_per_second < 0) {
          return absl::InvalidArgumentError("must be a number of at least 0");
        }
        return absl::OkStatus();
      },
      "items each reported partition pretends to consume per second (default 50)");
  p.AddSeconds("default-stats-interval", &f.default_stats_interval,
               "stats interval until an assignment sets one (default 10s)");
  p.AddInt("seed", &seed, 0, INT64_MAX, "seed of the simulated numbers (default 1)");
  absl::Status parsed = p.Parse(argc, argv);
  if (parsed.ok() && p.help_requested()) {
    std::cout << p.Usage();
    return 0;
  }
  if (c.setup_flag.empty()) c.setup_flag = c.flag;
  if (parsed.ok()) {
    if (f.controller.address.empty()) {
      parsed = absl::InvalidArgumentError("--controller is required");
    } else if (flag_changes > 0 && c.flag.empty()) {
      parsed = absl::InvalidArgumentError("--flag-changes needs --flag");
    } else if (setup_pipelines > 0 && c.setup_flag.empty()) {
      parsed = absl::InvalidArgumentError("--setup-pipelines needs --setup-flag (or --flag)");
    } else if (c.flag_change_every <= absl::ZeroDuration() ||
               c.flag_change_timeout <= absl::ZeroDuration()) {
      parsed = absl::InvalidArgumentError(
          "--flag-change-every and --flag-change-timeout must be greater than 0");
    } else if (f.default_stats_interval <= absl::ZeroDuration()) {
      parsed = absl::InvalidArgumentError("--default-stats-interval: must be greater than 0");
    }
  }
  f.controller.tls_ca_file = tls_ca;
  f.controller.allow_plaintext_token = allow_plaintext_token;
  if (parsed.ok()) {
    absl::StatusOr<std::string> token =
        sluice::ReadClientToken(token_file, "--token-file", sluice::SluiceTokenFromEnvironment());
    if (token.ok())
      f.controller.token = *token;
    else
      parsed = token.status();
  }
  c.admin = f.controller;
  if (parsed.ok() && !admin_token_file.empty()) {
    absl::StatusOr<std::string> token =
        sluice::ReadClientToken(admin_token_file, "--admin-token-file", std::nullopt);
    if (token.ok())
      c.admin.token = *token;
    else
      parsed = token.status();
  }
  if (parsed.ok()) parsed = sluice::CheckControllerConnection(f.controller);
  if (!parsed.ok()) {
    std::fprintf(stderr, "sluice-fleetsim: %s (see --help)\n",
                 std::string(parsed.message()).c_str());
    return 2;
  }
  f.workers = static_cast<int>(workers);
  f.connect_rate = connect_rate;
  f.streams_per_connection = static_cast<int>(streams_per_connection);
  f.stats.partitions_per_pipeline = static_cast<int>(partitions);
  f.stats.items_per_second_per_partition = items_per_second;
  f.seed = static_cast<uint64_t>(seed);
  c.flag_changes = static_cast<int>(flag_changes);
  c.setup_pipelines = static_cast<int>(setup_pipelines);
  c.setup_desired_workers = static_cast<int>(setup_desired_workers);
  c.controller_pid = static_cast<int>(controller_pid);

  RaiseOpenFileLimit();
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  sluice::fleetsim::FleetsimRun run(c, &std::cerr);
  absl::StatusOr<sluice::fleetsim::FleetsimReport> report = run.Run(g_stop);
  if (!report.ok()) {
    std::fprintf(stderr, "sluice-fleetsim: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  sluice::fleetsim::PrintReport(*report, std::cout);
  std::cout << sluice::fleetsim::ReportJson(*report) << std::endl;
  // Figures that are incomplete are not a success: a script can tell.
  const bool complete = report->all_connected && report->counts.ended == 0 && [&] {
    for (const auto& ch : report->changes) {
      if (ch.acked < ch.expected) return false;
    }
    return static_cast<int>(report->changes.size()) == c.flag_changes;
  }();
  return complete ? 0 : 3;
}
