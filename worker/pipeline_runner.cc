#include "worker/pipeline_runner.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "common/column_mapping.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace sluice::worker {

using google::protobuf::util::TimeUtil;

BatchLimits LimitsFromProto(const v1::BatchLimits& limits) {
  BatchLimits out;
  if (limits.max_rows() > 0) out.max_rows = limits.max_rows();
  if (limits.max_bytes() > 0) out.max_bytes = static_cast<int64_t>(limits.max_bytes());
  if (limits.has_consumer_timeout()) {
    out.consumer_timeout =
        absl::Milliseconds(TimeUtil::DurationToMilliseconds(limits.consumer_timeout()));
  }
  if (limits.has_freshness_target()) {
    out.freshness_target =
        absl::Milliseconds(TimeUtil::DurationToMilliseconds(limits.freshness_target()));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<PipelineRunner>> PipelineRunner::Create(
    const RunnerEnvironment& env, const v1::PipelineConfig& config, uint64_t version,
    std::shared_ptr<const flags::FlagSchedule> flag) {
  std::unique_ptr<PipelineRunner> r(new PipelineRunner());
  r->config_ = config;
  r->version_ = version;
  r->name_ = config.name();
  const std::string context = absl::StrCat("pipeline ", config.name(), " v", version);
  r->context_ = context;
  if (config.has_rollout()) {
    if (flag == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          context, ": rollout flag ", config.rollout().flag(), " did not come with the assignment"));
    }
    // A key form this build does not know is refused (NACK), never guessed.
    RETURN_IF_ERROR(Annotate(CheckRoutable(config.rollout()), context));
    r->router_ = std::make_unique<Router>(config.rollout(), std::move(flag),
                                          JsonPointersOf(config.columns()));
  }

  KafkaSourceConfig kafka;
  kafka.brokers = env.kafka_brokers;
  kafka.group_id = config.consumer_group();
  kafka.client_id = absl::StrCat(env.client_id, "-", config.name());
  kafka.properties = env.kafka_properties;
  for (const auto& [k, v] : config.kafka_properties()) kafka.properties[k] = v;
  for (const v1::ColumnMapping& c : config.columns()) {
    kafka.read_headers |= c.source() == v1::COLUMN_SOURCE_HEADER;
  }
  const std::vector<std::string> topics(config.topics().begin(), config.topics().end());
  RETURN_IF_ERROR(Annotate(CheckTopicsExist(kafka, topics, absl::Seconds(10)), context));

  PostgresSinkConfig sink = SinkConfigFor(config, env.postgres);
  const int writers = config.writers() == 0 ? kDefaultWriters : static_cast<int>(config.writers());
  absl::StatusOr<std::unique_ptr<PostgresWriterPool>> created =
      PostgresWriterPool::Create(sink, writers, env.clock);
  if (!created.ok()) return Annotate(created.status(), context);
  r->postgres_ = std::move(*created);

  absl::StatusOr<std::unique_ptr<KafkaMessageSource>> source = KafkaMessageSource::Create(kafka);
  if (!source.ok()) return Annotate(source.status(), context);
  r->source_ = std::move(*source);
  r->metrics_ =
      std::make_unique<WorkerMetrics>(*env.registry, config.name(), config.consumer_group());

  IngestLoopConfig loop;
  absl::StatusOr<int64_t> unstored_start = StartForUnstoredPartitions(kafka.properties);
  if (!unstored_start.ok()) return Annotate(unstored_start.status(), context);
  loop.unstored_start = *unstored_start;
  loop.topics = topics;
  loop.limits = LimitsFromProto(config.batch());
  loop.shutdown_timeout = env.shutdown_timeout;
  if (config.bad_rows().mode() == v1::BadRowTolerance::MODE_RATE) {
    loop.max_dead_letter_rate = config.bad_rows().max_rate();
    if (config.bad_rows().has_window()) {
      loop.dead_letter_window = ToAbslDuration(config.bad_rows().window());
    }
  }
  loop.unready_after = env.unready_after;
  r->loop_ = std::make_unique<IngestLoop>(
      IngestLoopDeps{r->source_.get(), r->postgres_->offsets(), r->postgres_->writers(), env.clock,
                     r->metrics_.get(), &r->stats_, r->router_.get()},
      loop);
  LOG(INFO) << "prepared " << context << " (" << config.topics_size() << " topics → "
            << config.target().table() << ")";
  return r;
}

void PipelineRunner::Launch() {
  // Here, not in Create: the runner it replaces zeroes the shared gauge when it stops.
  metrics_->SetConfigVersion(version_);
  thread_ = std::thread([this] {
    absl::Status s = loop_->Run(stop_);
    if (stop_.load()) {
      if (!s.ok()) LOG(ERROR) << context_ << " stopped: " << s.message();
      return;
    }
    // Ended by itself (a fatal Kafka error): the manager restarts it.
    LOG(ERROR) << context_ << " ended: " << s.message();
    absl::MutexLock lock(&exit_mu_);
    exited_ = s.ok() ? absl::UnavailableError("the ingest loop ended") : s;
  });
  LOG(INFO) << "started " << context_;
}

PipelineRunner::~PipelineRunner() { Stop(); }

void PipelineRunner::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  thread_.join();
  metrics_->Stopped();
  {
    absl::MutexLock lock(&exit_mu_);
    exited_.reset();
  }
  LOG(INFO) << "stopped pipeline " << config_.name() << " v" << version_;
}

std::optional<absl::Status> PipelineRunner::Exited() const {
  absl::MutexLock lock(&exit_mu_);
  return exited_;
}

void PipelineRunner::Update(const v1::PipelineConfig& config, uint64_t version) {
  loop_->UpdateLimits(LimitsFromProto(config.batch()));
  config_ = config;
  version_ = version;
  metrics_->SetConfigVersion(version);
  LOG(INFO) << "pipeline " << config.name() << " now at v" << version << " (batch limits live)";
}

void PipelineRunner::SetFlag(std::shared_ptr<const flags::FlagSchedule> flag) {
  if (router_ == nullptr || flag == nullptr) return;
  LOG(INFO) << "pipeline " << config_.name() << ": flag " << flag->name() << " now at v"
            << flag->version();
  router_->SetSchedule(std::move(flag));
}

absl::Status PipelineRunner::Ready() const {
  if (std::optional<absl::Status> exited = Exited()) {
    return absl::UnavailableError(absl::StrCat(name_, " stopped: ", exited->message()));
  }
  return Annotate(loop_->Ready(), name_);
}

}  // namespace sluice::worker
