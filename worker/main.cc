// sluice-worker: consumes Kafka topics as a consumer group and writes them to
// PostgreSQL exactly once. Standalone mode takes its pipeline from flags.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/http_server.h"
#include "common/mutex_deadlock_detection.h"
#include "flags/routing_key.h"
#include "glog/logging.h"
#include "prometheus/registry.h"
#include "worker/control_client.h"
#include "worker/ingest_loop.h"
#include "worker/kafka_message_source.h"
#include "worker/pipeline_manager.h"
#include "worker/pipeline_runner.h"
#include "worker/postgres/postgres_batch_sink.h"
#include "worker/postgres/postgres_writer_pool.h"
#include "worker/worker_metrics.h"
#include "worker/worker_options.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0-dev"
#endif

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

// Sleeps `d`, waking early when asked to stop.
void SleepUnlessStopped(absl::Duration d) {
  const absl::Time until = absl::Now() + d;
  while (!g_stop.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
}

// What /ready answers while the worker starts and stops: the reason the pipeline
// does not run yet, then the running pipeline's own answer. Thread-safe: CivetWeb's
// threads call Check().
class Readiness {
 public:
  void NotRunning(const std::string& reason) {
    absl::MutexLock lock(&mu_);
    check_ = [reason] { return absl::UnavailableError(reason); };
  }
  void Running(std::function<absl::Status()> check) {
    absl::MutexLock lock(&mu_);
    check_ = std::move(check);
  }
  absl::Status Check() const {
    absl::MutexLock lock(&mu_);
    return check_();
  }

 private:
  mutable absl::Mutex mu_;
  std::function<absl::Status()> check_ ABSL_GUARDED_BY(mu_) = [] {
    return absl::UnavailableError("starting");
  };
};

}  // namespace

using namespace sluice::worker;

// Controller mode: pipelines come and go with the controller's assignments.
int RunWithController(const WorkerOptions& options, const std::string& version,
                      const std::string& host, std::shared_ptr<prometheus::Registry> registry,
                      const sluice::Clock& clock) {
  RunnerEnvironment env;
  env.kafka_brokers = options.kafka.brokers;
  env.kafka_properties = options.kafka.properties;
  env.postgres = options.postgres.connection;
  env.client_id = options.kafka.client_id;
  env.registry = registry.get();
  env.clock = &clock;
  env.shutdown_timeout = options.loop.shutdown_timeout;
  env.unready_after = options.loop.unready_after;
  PipelineManager manager(
      [&env](const sluice::v1::PipelineConfig& config, uint64_t v,
             std::shared_ptr<const sluice::flags::FlagSchedule> flag)
          -> absl::StatusOr<std::unique_ptr<sluice::worker::Pipeline>> {
        absl::StatusOr<std::unique_ptr<PipelineRunner>> runner =
            PipelineRunner::Create(env, config, v, std::move(flag));
        if (!runner.ok()) return runner.status();
        return std::unique_ptr<sluice::worker::Pipeline>(std::move(*runner));
      },
      &clock);
  ControlClientConfig control;
  control.controller = options.controller;
  std::string worker_id = options.worker_id;
  if (worker_id.empty()) {
    absl::StatusOr<std::string> id = DefaultWorkerId(host, options.metrics_address);
    if (!id.ok()) {
      std::fprintf(stderr, "sluice-worker: %s (see --help)\n", std::string(id.status().message()).c_str());
      return 2;
    }
    worker_id = *id;
  }
  control.hello.set_worker_id(worker_id);
  control.hello.set_build_version(version);
  control.hello.set_host(host);
  control.hello.set_pid(getpid());
  // The controller gives a pipeline that routes by a newer key form only to
  // workers that say they compute it.
  for (sluice::v1::RoutingKeyForm form : sluice::flags::ExtraKeyForms()) {
    control.hello.add_routing_key_forms(form);
  }
  control.nack_retry_interval = options.nack_retry_interval;
  ControlClient client(control, &manager);

  absl::StatusOr<std::unique_ptr<sluice::HttpServer>> http = sluice::HttpServer::Start(
      options.metrics_address, registry, [&manager]() { return manager.Ready(); });
  if (!http.ok()) {
    LOG(ERROR) << http.status().message();
    return 1;
  }
  LOG(INFO) << "sluice-worker " << version << " (" << control.hello.worker_id()
            << ") taking pipelines from " << options.controller.address << "; metrics on port "
            << (*http)->port();
  const absl::Status status = client.Run(g_stop);
  manager.StopAll();
  if (!status.ok()) {
    LOG(ERROR) << status.message();
    return 1;
  }
  LOG(INFO) << "stopped cleanly";
  return 0;
}

// Standalone mode: one pipeline from flags.
int RunStandalone(const WorkerOptions& options, const std::string& version,
                  std::shared_ptr<prometheus::Registry> registry, const sluice::Clock& clock) {
  // The endpoints come first: /healthz answers while PostgreSQL is awaited, and
  // /ready says what the worker waits for.
  Readiness readiness;
  readiness.NotRunning("waiting for PostgreSQL: connecting");
  absl::StatusOr<std::unique_ptr<sluice::HttpServer>> http = sluice::HttpServer::Start(
      options.metrics_address, registry, [&readiness]() { return readiness.Check(); });
  if (!http.ok()) {
    LOG(ERROR) << http.status().message();
    return 1;
  }
  LOG(INFO) << "sluice-worker " << version << " consuming " << options.kafka.brokers
            << " group " << options.kafka.group_id << " into " << options.postgres.table
            << "; metrics on port " << (*http)->port();

  // PostgreSQL may still be starting: wait for it (a missing table is final).
  sluice::ExponentialBackoff backoff(absl::Milliseconds(200), absl::Seconds(10));
  std::unique_ptr<PostgresWriterPool> postgres;
  while (!g_stop.load()) {
    absl::StatusOr<std::unique_ptr<PostgresWriterPool>> created =
        PostgresWriterPool::Create(options.postgres, options.writers, &clock);
    if (created.ok()) {
      postgres = std::move(*created);
      break;
    }
    if (!absl::IsUnavailable(created.status())) {
      LOG(ERROR) << created.status().message();
      return 1;
    }
    // libpq's messages span lines; /ready answers in one.
    readiness.NotRunning(absl::StrCat(
        "waiting for PostgreSQL: ",
        absl::StrReplaceAll(created.status().message(), {{"\n\t", " "}, {"\n", " "}})));
    const absl::Duration delay = backoff.NextDelay();
    LOG(WARNING) << created.status().message() << "; retrying in " << absl::FormatDuration(delay);
    SleepUnlessStopped(delay);
  }
  if (!postgres) return 0;

  absl::StatusOr<std::unique_ptr<KafkaMessageSource>> source =
      KafkaMessageSource::Create(options.kafka);
  if (!source.ok()) {
    LOG(ERROR) << source.status().message();
    return 1;
  }

  // `source` goes before `postgres` (whose writer threads wake it): safe because
  // Run() returns only after waiting for every write, and a writer's Wait()
  // returns only after its wake.
  WorkerMetrics metrics(*registry, options.pipeline_name, options.kafka.group_id);
  IngestLoop loop({source->get(), postgres->offsets(), postgres->writers(), &clock, &metrics},
                  options.loop);
  readiness.Running([&loop]() { return loop.Ready(); });
  absl::Status status = loop.Run(g_stop);
  // The loop goes before the HTTP server: /ready must not reach it any more.
  readiness.NotRunning(status.ok() ? "stopping" : std::string(status.message()));
  if (!status.ok()) {
    LOG(ERROR) << status.message();
    return 1;
  }
  LOG(INFO) << "stopped cleanly";
  return 0;
}

int main(int argc, char** argv) {
  sluice::TurnOffMutexDeadlockDetection();
  absl::StatusOr<WorkerOptions> options =
      ParseWorkerOptions(argc, argv, [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        if (v == nullptr) return std::nullopt;
        return std::string(v);
      });
  if (!options.ok()) {
    std::fprintf(stderr, "sluice-worker: %s (see --help)\n",
                 std::string(options.status().message()).c_str());
    return 2;
  }
  if (options->help) {
    std::cout << options->usage;
    return 0;
  }
  if (absl::StatusOr<int64_t> start = StartForUnstoredPartitions(options->kafka.properties);
      start.ok()) {
    options->loop.unstored_start = *start;
  } else {
    std::fprintf(stderr, "sluice-worker: %s\n", std::string(start.status().message()).c_str());
    return 2;
  }
  FLAGS_logtostderr = true;
  google::InitGoogleLogging("sluice-worker");
  for (const std::string& w : options->warnings) LOG(WARNING) << w;

  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const std::string version =
      options->version_label.empty() ? SLUICE_VERSION : options->version_label;
  char host_buf[256] = {};
  gethostname(host_buf, sizeof(host_buf) - 1);
  const std::string host = host_buf;
  options->kafka.client_id = absl::StrCat("sluice-worker-", host, "-", getpid());
  options->postgres.connection.application_name = options->kafka.client_id;

  auto registry = std::make_shared<prometheus::Registry>();
  WorkerMetrics::RegisterBuildInfo(*registry, version);
  sluice::RealClock clock;
  if (!options->controller.address.empty()) {
    return RunWithController(*options, version, host, registry, clock);
  }
  return RunStandalone(*options, version, registry, clock);
}
