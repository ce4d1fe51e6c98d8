// sluice-controller: the gRPC control plane. Keeps pipelines (with version history
// and an audit log) in PostgreSQL, assigns them to workers over WorkerControl
// streams and aggregates the stats workers report back.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/arg_parser.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/grpc_limits.h"
#include "common/host_port.h"
#include "common/http_server.h"
#include "common/mutex_deadlock_detection.h"
#include "common/pg_conninfo.h"
#include "common/secret_file.h"
#include "controller/admin_service.h"
#include "controller/call_authorizer.h"
#include "controller/controller_metrics.h"
#include "controller/flagd_sync_service.h"
#include "controller/flags_service.h"
#include "controller/fleet.h"
#include "controller/leader_election.h"
#include "controller/ofrep_service.h"
#include "controller/ramp_scheduler.h"
#include "controller/schedule_horizon_keeper.h"
#include "controller/server_credentials.h"
#include "controller/state_store.h"
#include "controller/state_sync.h"
#include "controller/stats_aggregator.h"
#include "controller/stats_rollup_writer.h"
#include "controller/token_table.h"
#include "controller/worker_control_service.h"
#include "glog/logging.h"

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
void OnSignal(int) { g_stop.store(true); }
void OnHangup(int) { g_reload.store(true); }

struct ControllerOptions {
  // Loopback by default: without tokens, anyone who can reach the port could
  // change what every worker runs.
  std::string listen = "127.0.0.1:7400";
  // Named by followers as the leader's address; "": --listen (a wildcard host
  // replaced by this machine's name).
  std::string advertise_address;
  bool allow_unauthenticated = false;
  std::string auth_tokens_file;
  bool allow_plaintext_tokens = false;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string flagd_sync_address;
  std::string flagd_sync_client_ca;
  std::string db_host = "localhost";
  int64_t db_port = 5432;
  std::string db_user;
  std::string db_name;
  std::string db_password_file;
  std::string metrics_address = "0.0.0.0:9188";
  absl::Duration worker_lease = absl::Seconds(15);
  absl::Duration stats_interval = absl::Seconds(5);
  absl::Duration flag_lead = absl::Seconds(30);
  absl::Duration schedule_retention = absl::Hours(24 * 30);
  absl::Duration hello_timeout = absl::Seconds(10);
  // 0: three flag leads.
  absl::Duration schedule_hold_limit = absl::ZeroDuration();
};

// --listen as others reach it: 0.0.0.0 and [::] name no machine.
std::string DefaultAdvertiseAddress(const std::string& listen) {
  for (const char* wildcard : {"0.0.0.0:", "[::]:"}) {
    if (absl::StartsWith(listen, wildcard)) {
      char host[256] = {};
      gethostname(host, sizeof(host) - 1);
      return absl::StrCat(host, ":", listen.substr(std::string(wildcard).size()));
    }
  }
  return listen;
}

// The port of HOST:PORT ("" without one).
std::string PortOf(const std::string& address) {
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? "" : address.substr(colon + 1);
}

absl::StatusOr<sluice::controller::TokenTable> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> contents = sluice::ReadSecretFile(path);
  if (!contents.ok()) return contents.status();
  return sluice::controller::TokenTable::Parse(*contents);
}

}  // namespace

int main(int argc, char** argv) {
  sluice::TurnOffMutexDeadlockDetection();
  using namespace sluice::controller;
  ControllerOptions o;
  sluice::ArgParser p("sluice-controller");
  p.AddString("listen", &o.listen,
              "gRPC address (default 127.0.0.1:7400; a non-loopback address needs "
              "--auth-tokens-file and TLS, or --allow-unauthenticated)");
  p.AddString("advertise-address", &o.advertise_address,
              "HOST:PORT at which workers and clients reach this replica, named by the "
              "other replicas while it leads (default: --listen, a wildcard host replaced "
              "by this machine's name); give every replica the same database");
  p.AddString("auth-tokens-file", &o.auth_tokens_file,
              "file of bearer tokens, one 'NAME ROLE TOKEN' per line, ROLE read, worker or "
              "admin; without it only loopback callers are served (as admin 'local')");
  p.AddBool("allow-unauthenticated", &o.allow_unauthenticated,
            "accept a non-loopback --listen without tokens: anyone who can reach it can change "
            "every pipeline");
  p.AddBool("allow-plaintext-tokens", &o.allow_plaintext_tokens,
            "accept tokens on a non-loopback --listen without TLS (they cross the network in "
            "clear text)");
  p.AddString("tls-cert", &o.tls_cert, "PEM certificate chain: serve gRPC over TLS");
  p.AddString("tls-key", &o.tls_key, "PEM private key of --tls-cert");
  p.AddString("tls-client-ca", &o.tls_client_ca,
              "PEM CA of worker client certificates: workers must present one (mutual TLS)");
  p.AddString("flagd-sync-address", &o.flagd_sync_address,
              "HOST:PORT serving the flags to OpenFeature flagd providers (flagd.sync.v1, "
              "read-only, no token): a loopback address, or with --tls-cert, --tls-key and "
              "--flagd-sync-client-ca any address (default: not served)");
  p.AddString("flagd-sync-client-ca", &o.flagd_sync_client_ca,
              "PEM CA of the client certificates flagd providers must present on a "
              "non-loopback --flagd-sync-address (mutual TLS)");
  p.AddString("db-host", &o.db_host, "PostgreSQL host (default localhost)");
  p.AddInt("db-port", &o.db_port, "PostgreSQL port (default 5432)");
  p.AddString("db-user", &o.db_user, "PostgreSQL user");
  p.AddString("db-name", &o.db_name, "PostgreSQL database (the workers' ingestion database)");
  p.AddString("db-password-file", &o.db_password_file, "password file (or set PGPASSWORD)");
  p.AddString("metrics-address", &o.metrics_address,
              "HOST:PORT serving /metrics, /healthz, /ready (default 0.0.0.0:9188)");
  p.AddSeconds("worker-lease", &o.worker_lease,
               "how long a disconnected worker keeps its pipelines (default 15s)");
  p.AddSeconds("stats-interval", &o.stats_interval, "how often workers report (default 5s)");
  p.AddSeconds("schedule-retention", &o.schedule_retention,
               "how long past flag schedule changes are kept; at least the longest retention "
               "of the topics rollouts read (default 720h = 30 days)");
  p.AddSeconds("flag-lead", &o.flag_lead,
               "how far ahead flag changes must take effect (default 30s)");
  p.AddSeconds("schedule-hold-limit", &o.schedule_hold_limit,
               "how long a worker holds a partition whose next item is later than the flag "
               "schedule it knows (cut off from the controller, or a producer clock ahead) "
               "before it dead-letters the item (default 3 flag leads)");
  p.AddSeconds("hello-timeout", &o.hello_timeout,
               "how long a new worker stream may wait before its Hello (default 10s)");
  absl::Status parsed = p.Parse(argc, argv);
  if (parsed.ok() && o.db_name.empty() && !p.help_requested()) {
    parsed = absl::InvalidArgumentError("--db-name is required");
  }
  if (o.advertise_address.empty()) o.advertise_address = DefaultAdvertiseAddress(o.listen);
  if (parsed.ok() && o.hello_timeout <= absl::ZeroDuration()) {
    parsed = absl::InvalidArgumentError("--hello-timeout: must be greater than 0");
  }
  // Shorter than an hour would re-route items a consumer merely lags behind on.
  if (parsed.ok() && o.schedule_retention < absl::Hours(1)) {
    parsed = absl::InvalidArgumentError("--schedule-retention: must be at least 1h");
  }
  if (parsed.ok() && o.flag_lead <= absl::ZeroDuration()) {
    parsed = absl::InvalidArgumentError("--flag-lead: must be greater than 0");
  }
  if (parsed.ok() && o.schedule_hold_limit < absl::ZeroDuration()) {
    parsed = absl::InvalidArgumentError("--schedule-hold-limit: must not be negative");
  }
  if (o.schedule_hold_limit == absl::ZeroDuration()) o.schedule_hold_limit = 3 * o.flag_lead;
  if (parsed.ok() && o.stats_interval <= absl::ZeroDuration()) {
    parsed = absl::InvalidArgumentError("--stats-interval: must be greater than 0");
  }
  const bool remote = !sluice::IsLoopbackAddress(o.listen);
  if (parsed.ok() && !p.help_requested() && remote && o.auth_tokens_file.empty() &&
      !o.allow_unauthenticated) {
    parsed = absl::InvalidArgumentError(absl::StrCat(
        "--listen ", o.listen,
        " is not a loopback address, and the controller has no authentication: anyone who "
        "can reach it could change what every worker runs; give --auth-tokens-file (and "
        "TLS), listen on loopback, or accept that with --allow-unauthenticated"));
  }
  if (parsed.ok() && !p.help_requested() && remote && !o.auth_tokens_file.empty() &&
      o.tls_cert.empty() && !o.allow_plaintext_tokens) {
    parsed = absl::InvalidArgumentError(absl::StrCat(
        "--listen ", o.listen,
        " is not a loopback address: tokens would cross the network in clear text; give "
        "--tls-cert and --tls-key, or accept that with --allow-plaintext-tokens"));
  }
  // The stock flagd providers send no token: who may read the flags is decided by
  // where the listener is, or by a client certificate.
  if (parsed.ok() && !p.help_requested() && !o.flagd_sync_address.empty() &&
      !sluice::IsLoopbackAddress(o.flagd_sync_address) &&
      (o.tls_cert.empty() || o.flagd_sync_client_ca.empty())) {
    parsed = absl::InvalidArgumentError(absl::StrCat(
        "--flagd-sync-address ", o.flagd_sync_address,
        " is not a loopback address: flagd providers present no token, so give --tls-cert, "
        "--tls-key and --flagd-sync-client-ca (they must present a client certificate), or "
        "serve it on loopback"));
  }
  if (parsed.ok() && !o.flagd_sync_client_ca.empty() &&
      (o.flagd_sync_address.empty() || sluice::IsLoopbackAddress(o.flagd_sync_address))) {
    parsed = absl::InvalidArgumentError(
        "--flagd-sync-client-ca is for a non-loopback --flagd-sync-address (on loopback the "
        "listener is plaintext)");
  }
  // A port shared with another listener would split its connections, or fail late.
  if (parsed.ok() && !o.flagd_sync_address.empty()) {
    const std::string port = PortOf(o.flagd_sync_address);
    for (const std::string* other : {&o.listen, &o.metrics_address}) {
      if (!port.empty() && port != "0" && port == PortOf(*other)) {
        parsed = absl::InvalidArgumentError(absl::StrCat(
            "--flagd-sync-address ", o.flagd_sync_address, " shares its port with ", *other));
      }
    }
  }
  if (parsed.ok() && !o.auth_tokens_file.empty() && o.allow_unauthenticated) {
    parsed = absl::InvalidArgumentError(
        "--allow-unauthenticated contradicts --auth-tokens-file: choose one");
  }
  std::shared_ptr<const TokenTable> tokens;
  if (parsed.ok() && !p.help_requested() && !o.auth_tokens_file.empty()) {
    absl::StatusOr<TokenTable> table = ReadTokenFile(o.auth_tokens_file);
    if (table.ok()) {
      tokens = std::make_shared<const TokenTable>(std::move(*table));
    } else {
      parsed = absl::InvalidArgumentError(
          absl::StrCat("--auth-tokens-file: ", table.status().message()));
    }
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials({o.tls_cert, o.tls_key, o.tls_client_ca});
  if (parsed.ok() && !p.help_requested() && !credentials.ok()) parsed = credentials.status();
  // Loopback: plaintext (a sidecar on this host); otherwise TLS requiring a client
  // certificate from --flagd-sync-client-ca.
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> flagd_credentials =
      sluice::IsLoopbackAddress(o.flagd_sync_address) || o.flagd_sync_address.empty()
          ? MakeServerCredentials({})
          : MakeServerCredentials({o.tls_cert, o.tls_key, o.flagd_sync_client_ca,
                                   /*require_client_certificate=*/true});
  if (parsed.ok() && !p.help_requested() && !flagd_credentials.ok()) {
    parsed = absl::InvalidArgumentError(
        absl::StrCat("--flagd-sync-address: ", flagd_credentials.status().message()));
  }
  if (!parsed.ok()) {
    std::fprintf(stderr, "sluice-controller: %s (see --help)\n",
                 std::string(parsed.message()).c_str());
    return 2;
  }
  if (p.help_requested()) {
    std::cout << p.Usage();
    return 0;
  }
  std::string password;
  if (!o.db_password_file.empty()) {
    absl::StatusOr<std::string> secret = sluice::ReadSecretFile(o.db_password_file);
    if (!secret.ok()) {
      std::fprintf(stderr, "sluice-controller: --db-password-file: %s\n",
                   std::string(secret.status().message()).c_str());
      return 2;
    }
    password = *secret;
  } else if (const char* env = std::getenv("PGPASSWORD")) {
    password = env;
  }
  FLAGS_logtostderr = true;
  google::InitGoogleLogging("sluice-controller");
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup = {};
  hup.sa_handler = OnHangup;
  sigaction(SIGHUP, &hup, nullptr);

  StoreOptions store_options{sluice::PostgresConnInfo({{"host", o.db_host},
                                                       {"port", std::to_string(o.db_port)},
                                                       {"user", o.db_user},
                                                       {"dbname", o.db_name},
                                                       {"password", password},
                                                       {"application_name", "sluice-controller"},
                                                       {"connect_timeout", "5"}})};
  sluice::RealClock clock;
  store_options.clock = &clock;
  std::unique_ptr<StateStore> store;
  sluice::ExponentialBackoff backoff(absl::Milliseconds(200), absl::Seconds(10));
  while (!g_stop) {
    absl::StatusOr<std::unique_ptr<StateStore>> opened = StateStore::Open(store_options);
    if (opened.ok()) {
      store = std::move(*opened);
      break;
    }
    const absl::Duration delay = backoff.NextDelay();
    LOG(WARNING) << opened.status().message() << "; retrying in " << absl::FormatDuration(delay);
    absl::SleepFor(delay);
  }
  if (!store) return 0;

  auto registry = std::make_shared<prometheus::Registry>();
  ControllerMetrics metrics(*registry);
  Fleet fleet(
      clock,
      {o.worker_lease, o.stats_interval, 3 * o.stats_interval, o.schedule_hold_limit, o.flag_lead},
      &metrics);
  const absl::Duration stats_retention = absl::Hours(1);
  StatsAggregator stats(clock, stats_retention, /*silent_after=*/3 * o.stats_interval);
  StatsRollupWriter rollups(&stats, store.get(), clock, stats_retention);
  CallAuthorizer auth({tokens, o.allow_unauthenticated,
                       /*require_worker_certificate=*/!o.tls_client_ca.empty()});
  const FlagTiming flag_timing{o.flag_lead, o.schedule_retention, 2 * o.stats_interval};
  StateSync sync(store.get(), &fleet, clock);
  // Nothing is served before the state is loaded: a fleet without pipelines would
  // push every worker an empty assignment.
  backoff.Reset();
  while (!g_stop) {
    absl::Status loaded = sync.Reload();
    if (loaded.ok()) break;
    const absl::Duration delay = backoff.NextDelay();
    LOG(WARNING) << "loading the controller state: " << loaded.message() << "; retrying in "
                 << absl::FormatDuration(delay);
    absl::SleepFor(delay);
  }
  if (g_stop) return 0;
  ScheduleHorizonKeeper horizon(store.get(), &sync, &fleet, clock, &metrics,
                                {o.flag_lead, flag_timing.write_allowance()});
  // Set once the services exist (before the election runs).
  WorkerControlService* streams = nullptr;
  // The replica that holds the leader lock serves the workers; the others answer
  // reads and name it (controller/leader_election.h).
  LeaderElection election(
      {store_options.connection_string, o.advertise_address}, clock, &metrics,
      /*takeover=*/
      [&](bool led_last) -> absl::Status {
        // The state as of now, then the workers known before (from the registry
        // every leader keeps): each keeps its pipelines for a lease while it
        // reconnects, so a restart or a failover moves nothing; otherwise the
        // first to reconnect would take every pipeline.
        if (absl::Status loaded = sync.Reload(); !loaded.ok()) return loaded;
        absl::StatusOr<std::vector<KnownWorker>> known = store->LoadWorkers();
        if (!known.ok()) return known.status();
        fleet.RestoreWorkers(*known);
        LOG(INFO) << known->size() << " workers known before this replica led; each has "
                  << absl::FormatDuration(o.worker_lease) << " to reconnect";
        // The stats history the last leader stored (`stats`, the ramp guards).
        // What this replica holds from an earlier term is stale if another led
        // since. Best effort: without it the guards wait for data.
        rollups.DropPending();
        if (!led_last) stats.Clear();
        if (absl::StatusOr<std::vector<MinuteRollup>> history =
                store->LoadStatsRollups(clock.Now() - stats_retention);
            history.ok()) {
          stats.RestoreMinutes(*history);
        } else {
          LOG(WARNING) << "stats history not loaded (stats and ramp guards start from now): "
                       << history.status().message();
        }
        // The workers get the horizon with their first assignment. A failure
        // leaves it to the keeper's thread (workers hold timestamped items until
        // then).
        horizon.Advance().IgnoreError();  // logged
        return absl::OkStatus();
      },
      /*step_down=*/
      [&](bool holds_lock) {
        if (streams != nullptr) streams->EndStreamsOnStepDown();
        // Watches see the step-down when woken.
        fleet.Notify();
        // A resignation stores the stats its streams brought, the lock still
        // held; a replica that lost the lock stores nothing more (the new leader
        // may have stored newer counts already).
        if (holds_lock) {
          rollups.Flush().IgnoreError();
        } else {
          rollups.DropPending();
        }
      });
  DeadLetterReplayer replayer(store_options.connection_string);
  TargetTableChecker table_checker(store_options.connection_string);
  AdminService admin(store.get(), &fleet, &sync, &stats, clock, flag_timing, auth, election,
                     &replayer, &table_checker);
  WorkerControlService control(&fleet, &stats, store.get(), auth, election, clock, o.hello_timeout);
  FlagsService flags_service(&fleet, clock, auth, election);
  // Evaluators that acknowledge nothing are served while the stored state was
  // readable within half a lead: changes take effect a lead after they are made.
  auto flags_fresh = [&sync, lead = o.flag_lead] { return sync.ReadyWithin(lead / 2); };
  FlagdSyncService flagd_sync(&fleet, flags_fresh);
  OfrepService ofrep(&fleet, clock, auth, {o.allow_plaintext_tokens}, flags_fresh);
  streams = &control;
  RampScheduler ramps(store.get(), &fleet, &stats, clock, flag_timing,
                      [&sync] { return sync.Reload(); });

  LOG(INFO) << "advertised as " << o.advertise_address << "; electing the leader";
  // A replica alone leads before it serves its first call.
  election.Step();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(o.listen, *credentials, &port);
  // Bounded both ways (the clients set the same limit), with keepalives.
  sluice::ApplySluiceServerArguments(&builder);
  builder.RegisterService(&control);
  builder.RegisterService(&admin);
  builder.RegisterService(&flags_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    LOG(ERROR) << "cannot listen on " << o.listen;
    election.Resign();  // while the services it ends streams on still exist
    return 1;
  }
  absl::StatusOr<std::unique_ptr<sluice::HttpServer>> http = sluice::HttpServer::Start(
      o.metrics_address, registry, [&sync] { return sync.Ready(); },
      {{"/leader",
        [&election]() {
          if (election.IsLeader()) {
            return std::make_pair(200, absl::StrCat("leader ", election.OwnAddress(), "\n"));
          }
          const std::string leader = election.LeaderAddress();
          return std::make_pair(503, absl::StrCat("follower; the leader is ",
                                                  leader.empty() ? "unknown" : leader, "\n"));
        }}},
      {{OfrepService::kPath,
        ofrep.Endpoint([&metrics](int code) { metrics.OfrepAnswered(code); })}});
  if (!http.ok()) {
    LOG(ERROR) << http.status().message();
    control.Shutdown();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
    election.Resign();
    return 1;
  }
  // OpenFeature flagd providers, on a listener of their own (no token: loopback or
  // mutual TLS).
  std::unique_ptr<grpc::Server> flagd_server;
  if (!o.flagd_sync_address.empty()) {
    grpc::ServerBuilder flagd_builder;
    int flagd_port = 0;
    flagd_builder.AddListeningPort(o.flagd_sync_address, *flagd_credentials, &flagd_port);
    sluice::ApplySluiceServerArguments(&flagd_builder);
    flagd_builder.RegisterService(&flagd_sync);
    flagd_server = flagd_builder.BuildAndStart();
    if (!flagd_server || flagd_port == 0) {
      LOG(ERROR) << "cannot listen on --flagd-sync-address " << o.flagd_sync_address;
      control.Shutdown();
      server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
      election.Resign();
      return 1;
    }
    LOG(INFO) << "flagd sync (OpenFeature) on " << o.flagd_sync_address << " (port " << flagd_port
              << (sluice::IsLoopbackAddress(o.flagd_sync_address)
                      ? "; loopback, no credentials)"
                      : "; TLS, client certificates required)");
  }
  if (tokens) {
    LOG(INFO) << "authentication: " << tokens->size() << " tokens from " << o.auth_tokens_file;
    struct stat st = {};
    if (stat(o.auth_tokens_file.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      LOG(WARNING) << o.auth_tokens_file << " is readable by other users than its owner; "
                   << "chmod 600 it";
    }
  } else if (remote) {
    LOG(WARNING) << "--allow-unauthenticated: anyone who can reach " << o.listen
                 << " can change what every worker runs";
  } else {
    LOG(INFO) << "no --auth-tokens-file: listening on loopback only; local callers are admin "
                 "'local'";
  }
  const char* transport = o.tls_cert.empty()        ? "plaintext"
                          : o.tls_client_ca.empty() ? "TLS"
                                                    : "TLS, workers by client certificate";
  LOG(INFO) << "transport: " << transport;
  LOG(INFO) << "sluice-controller listening on " << o.listen << " (port " << port
            << "); metrics on port " << (*http)->port();

  std::thread election_thread([&election] { election.Run(g_stop); });
  std::thread horizon_thread([&horizon, &election] { horizon.Run(g_stop, election); });
  std::thread rollup_thread([&rollups, &election] { rollups.Run(g_stop, election); });
  // Leases, ramps and the rate gauges, once a second.
  absl::Time next_dead_letter_count = absl::InfinitePast();
  while (!g_stop) {
    if (g_reload.exchange(false)) {
      // Tokens are rotated or revoked by editing the file and sending SIGHUP; a bad
      // file keeps the tokens in force.
      absl::StatusOr<TokenTable> table =
          tokens ? ReadTokenFile(o.auth_tokens_file)
                 : absl::StatusOr<TokenTable>(absl::FailedPreconditionError("no tokens file"));
      absl::Status replaced =
          table.ok() ? auth.ReplaceTokens(std::make_shared<const TokenTable>(std::move(*table)))
                     : table.status();
      if (replaced.ok()) {
        LOG(INFO) << "SIGHUP: " << o.auth_tokens_file << " read again";
        fleet.Notify();  // every stream checks its token now
      } else {
        LOG(WARNING) << "SIGHUP: tokens not reloaded (the old ones stay): " << replaced.message();
      }
    }
    sync.Tick();
    // Only the leader moves pipelines and flags; a follower keeps its state
    // loaded for reads and for the day it leads.
    if (election.IsLeader()) {
      if (std::vector<std::string> expired = fleet.ExpireLeases(); !expired.empty()) {
        if (absl::Status s = store->ForgetWorkers(expired); !s.ok()) {
          LOG(WARNING) << "expired workers not forgotten in the registry: " << s.message();
        }
      }
      ramps.Tick();
    }
    fleet.PublishGauges();
    metrics.SetFlags(fleet.FlagSnapshot(), clock.Now());
    metrics.SetRowsPerSecond(stats.RowsPerSecond(absl::Minutes(1)));
    metrics.SetRowsReported(stats.RowsReported());
    metrics.SetFlagdSyncStreams(flagd_sync.open_streams());
    if (clock.Now() >= next_dead_letter_count) {
      // A count by state of a table the workers write: every 10 s, not every tick.
      next_dead_letter_count = clock.Now() + absl::Seconds(10);
      absl::StatusOr<std::map<std::string, DeadLetterCounts>> dead = store->CountDeadLetters();
      if (dead.ok()) {
        metrics.SetDeadLetters(*dead, clock.Now());
      } else {
        LOG(WARNING) << "dead letters not counted: " << dead.status().message();
      }
    }
    absl::SleepFor(absl::Seconds(1));
  }
  LOG(INFO) << "shutting down";
  // The lock first (the resignation stores the latest stats), so that a
  // follower leads while this one winds down.
  election_thread.join();
  control.Shutdown();
  flags_service.Shutdown();
  flagd_sync.Shutdown();
  if (flagd_server)
    flagd_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(3));
  horizon_thread.join();
  rollup_thread.join();
  return 0;
}
