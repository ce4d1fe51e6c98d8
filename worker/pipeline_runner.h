// One pipeline running on its own thread: a consumer, a sink and an ingest loop.
#ifndef SLUICE_WORKER_PIPELINE_RUNNER_H_
#define SLUICE_WORKER_PIPELINE_RUNNER_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "prometheus/registry.h"
#include "sluice/v1/pipeline.pb.h"
#include "worker/ingest_loop.h"
#include "worker/kafka_message_source.h"
#include "worker/pipeline_stats.h"
#include "worker/postgres/postgres_batch_sink.h"
#include "worker/router.h"
#include "worker/worker_metrics.h"

namespace sluice::worker {

// What every pipeline of a worker shares: where Kafka and PostgreSQL are.
struct RunnerEnvironment {
  std::string kafka_brokers;
  // librdkafka properties from the worker's flags; the pipeline's own win.
  std::map<std::string, std::string> kafka_properties;
  PostgresOptions postgres;
  std::string client_id;
  prometheus::Registry* registry = nullptr;
  const Clock* clock = nullptr;
  absl::Duration shutdown_timeout = absl::Seconds(15);
  absl::Duration unready_after = absl::Seconds(30);
};

BatchLimits LimitsFromProto(const v1::BatchLimits& limits);

class PipelineRunner {
 public:
  // Checks that the topics exist and the target table is usable (or creates it),
  // then starts consuming. FAILED_PRECONDITION says precisely what is wrong;
  // UNAVAILABLE if Kafka or PostgreSQL cannot be reached.
  // `flag`: the schedule of the rollout's flag (required when the config has a rollout).
  static absl::StatusOr<std::unique_ptr<PipelineRunner>> Start(
      const RunnerEnvironment& env, const v1::PipelineConfig& config, uint64_t version,
      std::shared_ptr<const flags::FlagSchedule> flag);
  // Stops (flush, leave the group) if still running.
  ~PipelineRunner();

  // Flushes the open batch, leaves the group and joins the thread.
  void Stop();
  // A new version whose only change is in the batch limits: applied live.
  void Update(const v1::PipelineConfig& config, uint64_t version);

  // A new version of the rollout flag's schedule, applied live.
  void SetFlag(std::shared_ptr<const flags::FlagSchedule> flag);
  // Version of the rollout flag in use (0 without a rollout).
  uint64_t flag_version() const { return router_ ? router_->schedule_version() : 0; }

  const v1::PipelineConfig& config() const { return config_; }
  uint64_t version() const { return version_; }
  v1::PipelineStats TakeStats() { return stats_.Take(config_.name(), version_); }
  absl::Status Ready() const;

 private:
  PipelineRunner() = default;

  v1::PipelineConfig config_;
  uint64_t version_ = 0;
  std::unique_ptr<PostgresBatchSink> sink_;
  std::unique_ptr<KafkaMessageSource> source_;
  std::unique_ptr<WorkerMetrics> metrics_;
  std::unique_ptr<Router> router_;
  PipelineStats stats_;
  std::unique_ptr<IngestLoop> loop_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> exited_{false};
  std::thread thread_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_PIPELINE_RUNNER_H_
