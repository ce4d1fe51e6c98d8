// A Pipeline that records what the manager does to it.
#ifndef SLUICE_TESTS_FAKES_FAKE_PIPELINE_H_
#define SLUICE_TESTS_FAKES_FAKE_PIPELINE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "worker/pipeline.h"

namespace sluice::testing {

// What happened to every FakePipeline of a test, in order ("launch p v1", ...).
class PipelineLog {
 public:
  void Add(std::string event) {
    absl::MutexLock lock(&mu_);
    events_.push_back(std::move(event));
  }
  std::vector<std::string> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> events_;
};

class FakePipeline : public worker::Pipeline {
 public:
  FakePipeline(v1::PipelineConfig config, uint64_t version, PipelineLog* log)
      : config_(std::move(config)), version_(version), log_(log) {}

  void Launch() override { log_->Add(Describe("launch")); }
  void Stop() override {
    if (on_stop_) on_stop_();
    log_->Add(Describe("stop"));
  }
  void Update(const v1::PipelineConfig& config, uint64_t version) override {
    config_ = config;
    version_ = version;
    log_->Add(Describe("update"));
  }
  void SetFlag(std::shared_ptr<const flags::FlagSchedule> flag) override {
    flag_version_ = flag ? flag->version() : 0;
  }
  void ExtendScheduleHorizon(uint64_t flag_version, absl::Time known_until, absl::Duration,
                             absl::Duration) override {
    absl::MutexLock lock(&mu_);
    horizons_.push_back({flag_version, known_until});
  }
  // The horizons passed on, in order.
  std::vector<std::pair<uint64_t, absl::Time>> horizons() const {
    absl::MutexLock lock(&mu_);
    return horizons_;
  }
  uint64_t flag_version() const override { return flag_version_; }
  const v1::PipelineConfig& config() const override { return config_; }
  uint64_t version() const override { return version_; }
  v1::PipelineStats TakeStats() override {
    v1::PipelineStats s;
    s.set_pipeline(config_.name());
    s.set_pipeline_version(version_);
    return s;
  }
  absl::Status Ready() const override {
    absl::MutexLock lock(&mu_);
    return ready_;
  }
  std::optional<absl::Status> Exited() const override {
    absl::MutexLock lock(&mu_);
    return exited_;
  }

  // The loop ended by itself with `why`.
  void Exit(absl::Status why) {
    absl::MutexLock lock(&mu_);
    exited_ = why;
    ready_ = absl::UnavailableError("stopped");
  }
  void SetReady(absl::Status s) {
    absl::MutexLock lock(&mu_);
    ready_ = s;
  }
  // Runs inside Stop() (e.g. to check what other threads can do meanwhile).
  void OnStop(std::function<void()> f) { on_stop_ = std::move(f); }

 private:
  std::string Describe(const std::string& what) const {
    return what + " " + config_.name() + " v" + std::to_string(version_);
  }

  v1::PipelineConfig config_;
  uint64_t version_;
  PipelineLog* log_;
  uint64_t flag_version_ = 0;
  std::vector<std::pair<uint64_t, absl::Time>> horizons_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_stop_;
  mutable absl::Mutex mu_;
  absl::Status ready_ = absl::OkStatus();
  std::optional<absl::Status> exited_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_FAKE_PIPELINE_H_
