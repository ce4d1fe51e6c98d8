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
#include "worker/pipeline.h"
#include "worker/pipeline_stats.h"
#include "worker/postgres/postgres_batch_sink.h"
#include "worker/postgres/postgres_writer_pool.h"
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

// The Kafka + PostgreSQL Pipeline: a consumer, a sink and an ingest loop on its
// own thread.
class PipelineRunner : public Pipeline {
 public:
  // Checks that the topics exist and the target table is usable (or creates it)
  // and builds the consumer, without joining the group. FAILED_PRECONDITION says
  // precisely what is wrong; UNAVAILABLE if Kafka or PostgreSQL cannot be reached.
  // `flag`: the schedule of the rollout's flag (required when the config has a rollout).
  static absl::StatusOr<std::unique_ptr<PipelineRunner>> Create(
      const RunnerEnvironment& env, const v1::PipelineConfig& config, uint64_t version,
      std::shared_ptr<const flags::FlagSchedule> flag);
  // Stops (flush, leave the group) if still running.
  ~PipelineRunner() override;

  void Launch() override;
  void Stop() override;
  void Update(const v1::PipelineConfig& config, uint64_t version) override;
  void SetFlag(std::shared_ptr<const flags::FlagSchedule> flag) override;
  void ExtendScheduleHorizon(uint64_t flag_version, absl::Time known_until,
                             absl::Duration hold_limit, absl::Duration lead) override {
    if (router_) router_->ExtendKnownUntil(flag_version, known_until, hold_limit, lead);
  }
  uint64_t flag_version() const override { return router_ ? router_->schedule_version() : 0; }
  const v1::PipelineConfig& config() const override { return config_; }
  uint64_t version() const override { return version_.load(); }
  // The name never changes and the version is atomic: the stats and /ready
  // threads read them while Update() runs on the control client's thread.
  v1::PipelineStats TakeStats() override { return stats_.Take(name_, version_.load()); }
  absl::Status Ready() const override;
  std::optional<absl::Status> Exited() const override;

 private:
  PipelineRunner() = default;

  // Read and written only on the thread that applies assignments.
  v1::PipelineConfig config_;
  std::string name_;
  std::atomic<uint64_t> version_{0};
  std::string context_;
  std::unique_ptr<KafkaMessageSource> source_;
  // After source_: its writer threads (which wake the source) end first.
  std::unique_ptr<PostgresWriterPool> postgres_;
  std::unique_ptr<WorkerMetrics> metrics_;
  std::unique_ptr<Router> router_;
  PipelineStats stats_;
  std::unique_ptr<IngestLoop> loop_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable absl::Mutex exit_mu_;
  // How the loop ended by itself; empty while it runs or after Stop().
  std::optional<absl::Status> exited_ ABSL_GUARDED_BY(exit_mu_);
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_PIPELINE_RUNNER_H_
