#include "controller/controller_metrics.h"

#include "flags/flag_schedule.h"

namespace sluice::controller {

ControllerMetrics::ControllerMetrics(prometheus::Registry& registry)
    : workers_(prometheus::BuildGauge()
                   .Name("sluice_controller_workers_connected")
                   .Help("Workers with an open stream, by build version.")
                   .Register(registry)),
      pending_(prometheus::BuildGauge()
                   .Name("sluice_controller_pushes_pending")
                   .Help("Assignments pushed and not yet ACKed or NACKed.")
                   .Register(registry)
                   .Add({})),
      pushes_(prometheus::BuildCounter()
                  .Name("sluice_controller_pushes_total")
                  .Help("Assignments pushed to workers.")
                  .Register(registry)
                  .Add({})),
      nacks_(prometheus::BuildCounter()
                 .Name("sluice_controller_nacks_total")
                 .Help("Assignments refused (in part or whole) by workers.")
                 .Register(registry)
                 .Add({})),
      known_until_(prometheus::BuildGauge()
                       .Name("sluice_controller_schedule_known_until_timestamp_seconds")
                       .Help("Unix time up to which the flag schedules sent to workers are "
                             "known complete (the last schedule barrier + the propagation "
                             "lead - the write allowance); items later than it wait.")
                       .Register(registry)
                       .Add({})),
      known_until_deprecated_(
          prometheus::BuildGauge()
              .Name("sluice_controller_schedule_known_until_seconds")
              .Help("Deprecated: sluice_controller_schedule_known_until_timestamp_seconds "
                    "(the same value; this name goes in a later release).")
              .Register(registry)
              .Add({})),
      horizon_failures_(prometheus::BuildCounter()
                            .Name("sluice_controller_schedule_horizon_failures_total")
                            .Help("Rounds that could not advance the schedule horizon (the "
                                  "database did not answer): workers keep the last one.")
                            .Register(registry)
                            .Add({})),
      leader_(prometheus::BuildGauge()
                  .Name("sluice_controller_leader")
                  .Help("1 while this replica leads (holds the leader lock in PostgreSQL, "
                        "serves the workers' streams and admin writes), 0 while it follows.")
                  .Register(registry)
                  .Add({})),
      leadership_changes_(
          prometheus::BuildCounter()
              .Name("sluice_controller_leadership_changes_total")
              .Help("Times this replica started (acquired) or stopped (lost) leading.")
              .Register(registry)),
      acquired_(leadership_changes_.Add({{"change", "acquired"}})),
      lost_(leadership_changes_.Add({{"change", "lost"}})),
      push_ack_seconds_(prometheus::BuildHistogram()
                            .Name("sluice_controller_push_to_ack_seconds")
                            .Help("Time from pushing an assignment to its ACK.")
                            .Register(registry)
                            .Add({}, prometheus::Histogram::BucketBoundaries{0.005, 0.01, 0.05, 0.1,
                                                                             0.5, 1, 5, 10, 30})),
      rows_per_second_(prometheus::BuildGauge()
                           .Name("sluice_controller_rows_per_second")
                           .Help("Deprecated: rate(sluice_controller_rows_reported_total[1m]). "
                                 "Rows/s over the last minute from worker stats, by pipeline "
                                 "and build version.")
                           .Register(registry)),
      dead_letters_(prometheus::BuildGauge()
                        .Name("sluice_controller_dead_letters")
                        .Help("Dead letters in sluice_dead_letters by pipeline and state "
                              "(pending: waiting for a replay or a discard; replayed; "
                              "discarded), counted every 10 s.")
                        .Register(registry)),
      dead_letters_counted_at_(
          prometheus::BuildGauge()
              .Name("sluice_controller_dead_letters_counted_at_timestamp_seconds")
              .Help("Unix time of the last successful count behind "
                    "sluice_controller_dead_letters (a failed count keeps the last values).")
              .Register(registry)
              .Add({})),
      dead_letters_counted_at_deprecated_(
          prometheus::BuildGauge()
              .Name("sluice_controller_dead_letters_counted_at_seconds")
              .Help("Deprecated: sluice_controller_dead_letters_counted_at_timestamp_seconds "
                    "(the same value; this name goes in a later release).")
              .Register(registry)
              .Add({})),
      rows_reported_(prometheus::BuildCounter()
                         .Name("sluice_controller_rows_reported_total")
                         .Help("Rows the workers reported to this replica in their stats "
                               "while it led, by pipeline and build version (after a "
                               "failover the new leader counts on; sum the rates).")
                         .Register(registry)),
      flagd_sync_streams_(prometheus::BuildGauge()
                              .Name("sluice_controller_flagd_sync_streams")
                              .Help("OpenFeature flagd providers holding a sync stream "
                                    "(flagd.sync.v1 SyncFlags) on --flagd-sync-address.")
                              .Register(registry)
                              .Add({})),
      ofrep_requests_(prometheus::BuildCounter()
                          .Name("sluice_controller_ofrep_requests_total")
                          .Help("OFREP evaluation requests answered, by HTTP status (200, 400 "
                                "bad context, 401/403 refused, 404 unknown flag, ...).")
                          .Register(registry)),
      flag_percent_(prometheus::BuildGauge()
                        .Name("sluice_controller_flag_percent")
                        .Help("Percentage of keys in each flag's rollout, in effect now.")
                        .Register(registry)),
      ramp_state_(prometheus::BuildGauge()
                      .Name("sluice_controller_ramp_state")
                      .Help("1 for the state each flag's ramp is in (running, waiting: running "
                            "but a due step lacks the sample its guards need, done, halted).")
                      .Register(registry)) {}

void ControllerMetrics::SetFlags(const v1::FlagSnapshot& flags, absl::Time now) {
  absl::MutexLock lock(&mu_);
  for (const v1::Flag& f : flags.flags()) {
    flag_percent_.Add({{"flag", f.name()}})
        .Set(flags::FlagSchedule(f).BasisPointsAt(now) / 100.0);
    if (!f.has_ramp()) continue;
    const v1::Ramp& r = f.ramp();
    const bool running = r.state() == v1::Ramp::STATE_RUNNING;
    const bool waiting = running && !r.waiting_reason().empty();
    const std::pair<const char*, bool> states[] = {{"running", running && !waiting},
                                                   {"waiting", waiting},
                                                   {"done", r.state() == v1::Ramp::STATE_DONE},
                                                   {"halted", r.state() == v1::Ramp::STATE_HALTED}};
    for (const auto& [state, in] : states) {
      ramp_state_.Add({{"flag", f.name()}, {"state", state}}).Set(in ? 1 : 0);
    }
  }
}

void ControllerMetrics::SetWorkersConnected(const std::map<std::string, int>& by_build_version) {
  absl::MutexLock lock(&mu_);
  for (auto& [version, gauge] : worker_gauges_) gauge->Set(0);
  for (const auto& [version, n] : by_build_version) {
    prometheus::Gauge*& g = worker_gauges_[version];
    if (g == nullptr) g = &workers_.Add({{"version", version}});
    g->Set(n);
  }
}

void ControllerMetrics::SetRowsPerSecond(
    const std::map<std::pair<std::string, std::string>, double>& rates) {
  absl::MutexLock lock(&mu_);
  for (auto& [key, gauge] : rate_gauges_) gauge->Set(0);
  for (const auto& [key, rate] : rates) {
    prometheus::Gauge*& g = rate_gauges_[key];
    if (g == nullptr) g = &rows_per_second_.Add({{"pipeline", key.first}, {"version", key.second}});
    g->Set(rate);
  }
}

void ControllerMetrics::OfrepAnswered(int code) {
  // Family::Add returns the existing series for known labels; the codes are few.
  ofrep_requests_.Add({{"code", std::to_string(code)}}).Increment();
}

void ControllerMetrics::SetRowsReported(
    const std::map<std::pair<std::string, std::string>, uint64_t>& totals) {
  absl::MutexLock lock(&mu_);
  for (const auto& [key, total] : totals) {
    prometheus::Counter*& c = rows_reported_counters_[key];
    if (c == nullptr) {
      c = &rows_reported_.Add({{"pipeline", key.first}, {"version", key.second}});
    }
    // The totals only grow; a counter only takes increments.
    const double delta = static_cast<double>(total) - c->Value();
    if (delta > 0) c->Increment(delta);
  }
}

void ControllerMetrics::SetDeadLetters(const std::map<std::string, DeadLetterCounts>& by_pipeline,
                                       absl::Time counted_at) {
  absl::MutexLock lock(&mu_);
  dead_letters_counted_at_.Set(absl::ToDoubleSeconds(counted_at - absl::UnixEpoch()));
  dead_letters_counted_at_deprecated_.Set(absl::ToDoubleSeconds(counted_at - absl::UnixEpoch()));
  for (auto it = dead_letter_gauges_.begin(); it != dead_letter_gauges_.end();) {
    if (by_pipeline.count(it->first) > 0) {
      ++it;
      continue;
    }
    for (prometheus::Gauge* g : it->second) dead_letters_.Remove(g);
    it = dead_letter_gauges_.erase(it);
  }
  for (const auto& [pipeline, counts] : by_pipeline) {
    std::array<prometheus::Gauge*, 3>& g = dead_letter_gauges_[pipeline];
    if (g[0] == nullptr) {
      g = {&dead_letters_.Add({{"pipeline", pipeline}, {"state", "pending"}}),
           &dead_letters_.Add({{"pipeline", pipeline}, {"state", "replayed"}}),
           &dead_letters_.Add({{"pipeline", pipeline}, {"state", "discarded"}})};
    }
    g[0]->Set(static_cast<double>(counts.pending));
    g[1]->Set(static_cast<double>(counts.replayed));
    g[2]->Set(static_cast<double>(counts.discarded));
  }
}

}  // namespace sluice::controller
