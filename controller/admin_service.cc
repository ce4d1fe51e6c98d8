#include "common/proto_time.h"
#include "controller/admin_service.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/identifiers.h"
#include "controller/admin_request_checks.h"
#include "controller/assigner.h"
#include "controller/flag_scheduler.h"
#include "controller/pipeline_validator.h"
#include "flags/flag_schedule.h"
#include "glog/logging.h"

namespace sluice::controller {
namespace {

using google::protobuf::util::TimeUtil;

// A kill re-reads and retries on a concurrent write (ABORTED) this many times.
constexpr int kKillAttempts = 5;

// Updates and deletes must name the version they read.
absl::Status RequireExpectedVersion(uint64_t expected_version, const char* read_with) {
  if (expected_version == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected_version: must be the version you read (sluicectl ", read_with, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::PipelineConfig> AdminService::CheckedPipeline(
    v1::PipelineConfig config, const v1::PipelineConfig* stored) {
  ApplyPipelineDefaults(&config);
  RETURN_IF_ERROR(ValidatePipelineConfig(config));
  RETURN_IF_ERROR(SettleKeyForm(stored, &config));
  if (config.has_rollout()) {
    absl::StatusOr<v1::Flag> flag = store_->GetFlag(config.rollout().flag());
    if (absl::IsNotFound(flag.status())) {
      return absl::InvalidArgumentError(
          absl::StrCat("rollout.flag: no flag named ", config.rollout().flag()));
    }
    RETURN_IF_ERROR(flag.status());
  }
  return config;
}

grpc::Status AdminService::Reloaded(const absl::Status& write) {
  if (!write.ok()) return ToGrpcStatus(write);
  // The write is committed, so it is answered OK whatever the reload does. A failed
  // reload is not lost: StateSync keeps the state marked stale (the controller's
  // /ready answers 503 saying why) and retries it until it loads, so the change
  // still reaches the workers.
  sync_->Reload().IgnoreError();
  return grpc::Status::OK;
}

grpc::Status AdminService::CreatePipeline(grpc::ServerContext* ctx,
                                          const v1::CreatePipelineRequest* req,
                                          v1::Pipeline* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  absl::StatusOr<v1::PipelineConfig> config = CheckedPipeline(req->config(), nullptr);
  if (!config.ok()) return ToGrpcStatus(config.status());
  absl::StatusOr<v1::Pipeline> created = store_->CreatePipeline(*config, caller->name);
  if (created.ok()) *resp = *created;
  return Reloaded(created.status());
}

grpc::Status AdminService::GetPipeline(grpc::ServerContext* ctx, const v1::GetPipelineRequest* req,
                                       v1::Pipeline* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Pipeline> p = store_->GetPipeline(req->name());
  if (p.ok()) *resp = *p;
  return ToGrpcStatus(p.status());
}

grpc::Status AdminService::ListPipelines(grpc::ServerContext* ctx, const v1::ListPipelinesRequest*,
                                         v1::ListPipelinesResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<std::vector<v1::Pipeline>> list = store_->ListPipelines();
  if (!list.ok()) return ToGrpcStatus(list.status());
  for (v1::Pipeline& p : *list) *resp->add_pipelines() = std::move(p);
  return grpc::Status::OK;
}

grpc::Status AdminService::UpdatePipeline(grpc::ServerContext* ctx,
                                          const v1::UpdatePipelineRequest* req,
                                          v1::Pipeline* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = RequireExpectedVersion(req->expected_version(), "pipelines get"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = CheckNameArg("name", req->config().name()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  // The stored config decides the key form; a concurrent change fails the update's
  // expected_version check anyway.
  absl::StatusOr<v1::Pipeline> stored = store_->GetPipeline(req->config().name());
  if (!stored.ok() && !absl::IsNotFound(stored.status())) return ToGrpcStatus(stored.status());
  absl::StatusOr<v1::PipelineConfig> config =
      CheckedPipeline(req->config(), stored.ok() ? &stored->config() : nullptr);
  if (!config.ok()) return ToGrpcStatus(config.status());
  absl::StatusOr<v1::Pipeline> updated =
      store_->UpdatePipeline(*config, req->expected_version(), caller->name);
  if (updated.ok()) *resp = *updated;
  return Reloaded(updated.status());
}

grpc::Status AdminService::DeletePipeline(grpc::ServerContext* ctx,
                                          const v1::DeletePipelineRequest* req,
                                          v1::DeletePipelineResponse*) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = RequireExpectedVersion(req->expected_version(), "pipelines get"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  return Reloaded(store_->DeletePipeline(req->name(), req->expected_version(), caller->name));
}

grpc::Status AdminService::ValidatePipeline(grpc::ServerContext* ctx,
                                            const v1::ValidatePipelineRequest* req,
                                            v1::ValidatePipelineResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // An oversized or empty name is not looked up; validation below names the problem.
  absl::StatusOr<v1::Pipeline> current =
      CheckNameArg("name", req->config().name()).ok()
          ? store_->GetPipeline(req->config().name())
          : absl::StatusOr<v1::Pipeline>(absl::NotFoundError("no such pipeline"));
  absl::StatusOr<v1::PipelineConfig> config =
      CheckedPipeline(req->config(), current.ok() ? &current->config() : nullptr);
  resp->set_valid(config.ok());
  if (!config.ok()) resp->set_error(std::string(config.status().message()));
  if (config.ok()) {
    // The workers' pre-flight, before anything is pushed.
    absl::StatusOr<std::string> table = table_checker_->Check(*config);
    if (!table.ok()) return ToGrpcStatus(table.status());
    resp->set_table_error(*table);
  }
  if (current.ok()) {
    resp->set_exists(true);
    resp->set_current_version(current->version());
  } else if (!absl::IsNotFound(current.status())) {
    return ToGrpcStatus(current.status());
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::PausePipeline(grpc::ServerContext* ctx,
                                         const v1::PausePipelineRequest* req, v1::Pipeline* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Pipeline> p = store_->SetPaused(req->name(), true, caller->name);
  if (p.ok()) *resp = *p;
  return Reloaded(p.status());
}

grpc::Status AdminService::ResumePipeline(grpc::ServerContext* ctx,
                                          const v1::ResumePipelineRequest* req,
                                          v1::Pipeline* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Pipeline> p = store_->SetPaused(req->name(), false, caller->name);
  if (p.ok()) *resp = *p;
  return Reloaded(p.status());
}

grpc::Status AdminService::GetPipelineStatus(grpc::ServerContext* ctx,
                                             const v1::GetPipelineStatusRequest* req,
                                             v1::PipelineStatus* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Pipeline> p = store_->GetPipeline(req->name());
  if (!p.ok()) return ToGrpcStatus(p.status());
  *resp->mutable_pipeline() = *p;
  if (absl::Status s = CheckAssignable(p->config()); !s.ok()) {
    resp->set_not_assigned_reason(std::string(s.message()));
  }
  for (v1::PipelineWorkerStatus& w : fleet_->PipelineStatus(req->name())) {
    *resp->add_workers() = std::move(w);
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::ListWorkers(grpc::ServerContext* ctx, const v1::ListWorkersRequest*,
                                       v1::ListWorkersResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  for (v1::WorkerInfo& w : fleet_->ListWorkers()) *resp->add_workers() = std::move(w);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetWorker(grpc::ServerContext* ctx, const v1::GetWorkerRequest* req,
                                     v1::WorkerInfo* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckWorkerIdArg("worker_id", req->worker_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::WorkerInfo> w = fleet_->GetWorker(req->worker_id());
  if (w.ok()) *resp = *w;
  return ToGrpcStatus(w.status());
}

grpc::Status AdminService::DrainWorker(grpc::ServerContext* ctx, const v1::DrainWorkerRequest* req,
                                       v1::WorkerInfo* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckWorkerIdArg("worker_id", req->worker_id()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::WorkerInfo> before = fleet_->GetWorker(req->worker_id());
  if (!before.ok()) return ToGrpcStatus(before.status());
  // Stored first: a drain must survive a controller restart (its workers come
  // back from the registry with it).
  if (std::optional<KnownWorker> known = fleet_->Known(req->worker_id())) {
    known->draining = true;
    if (absl::Status s = store_->SaveWorkers({*known}); !s.ok()) return ToGrpcStatus(s);
  }
  if (absl::Status s = fleet_->Drain(req->worker_id()); !s.ok()) return ToGrpcStatus(s);
  absl::Status audit = store_->Audit(caller->name, "worker.drain", req->worker_id(),
                                     before->draining() ? "draining" : "active", "draining");
  if (!audit.ok()) LOG(ERROR) << "audit: " << audit.message();
  absl::StatusOr<v1::WorkerInfo> after = fleet_->GetWorker(req->worker_id());
  if (after.ok()) *resp = *after;
  return ToGrpcStatus(after.status());
}

namespace {

// Each pipeline's row gains its dead-letter counts; a pipeline with pending dead
// letters and no report in the window gains a row. Rows stay ordered by key.
void AddDeadLetterCounts(const std::map<std::string, DeadLetterCounts>& dead,
                         std::vector<v1::StatsRow>* rows) {
  std::map<std::string, v1::StatsRow*> by_pipeline;
  for (v1::StatsRow& row : *rows) by_pipeline[row.key()] = &row;
  std::vector<v1::StatsRow> added;
  for (const auto& [pipeline, counts] : dead) {
    v1::StatsRow* row = nullptr;
    if (auto it = by_pipeline.find(pipeline); it != by_pipeline.end()) {
      row = it->second;
    } else if (counts.pending > 0) {
      row = &added.emplace_back();
      row->set_key(pipeline);
      row->set_consumer_lag_seconds(-1);
    } else {
      continue;
    }
    row->set_dead_letters_pending(counts.pending);
    row->set_dead_letters_replayed(counts.replayed);
  }
  if (added.empty()) return;
  for (v1::StatsRow& row : added) rows->push_back(std::move(row));
  std::sort(rows->begin(), rows->end(),
            [](const v1::StatsRow& a, const v1::StatsRow& b) { return a.key() < b.key(); });
}

}  // namespace

grpc::Status AdminService::GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                                    v1::GetStatsResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  absl::Duration window = absl::Minutes(5);
  if (req->has_window()) {
    window = absl::Milliseconds(TimeUtil::DurationToMilliseconds(req->window()));
    if (window <= absl::ZeroDuration() || window > absl::Hours(1)) {
      return ToGrpcStatus(absl::InvalidArgumentError("window: must be within (0, 1h]"));
    }
  }
  std::vector<v1::StatsRow> rows = stats_->Query(req->group_by(), window);
  if (req->group_by() == v1::STATS_GROUP_BY_UNSPECIFIED ||
      req->group_by() == v1::STATS_GROUP_BY_PIPELINE) {
    absl::StatusOr<std::map<std::string, DeadLetterCounts>> dead = store_->CountDeadLetters();
    // The workers' figures stand without them.
    if (dead.ok()) {
      AddDeadLetterCounts(*dead, &rows);
    } else {
      LOG(WARNING) << "stats without dead-letter counts: " << dead.status().message();
    }
  }
  for (v1::StatsRow& row : rows) *resp->add_rows() = std::move(row);
  *resp->mutable_window() = TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(window));
  return grpc::Status::OK;
}

absl::Status AdminService::Offsets(const std::string& pipeline, v1::GetOffsetsResponse* resp) {
  RETURN_IF_ERROR(CheckNameArg("pipeline", pipeline));
  ASSIGN_OR_RETURN(v1::Pipeline p, store_->GetPipeline(pipeline));
  ASSIGN_OR_RETURN(std::vector<v1::PartitionOffset> offsets,
                   store_->GetOffsets(p.config().consumer_group()));
  resp->set_pipeline(pipeline);
  resp->set_consumer_group(p.config().consumer_group());
  for (v1::PartitionOffset& o : offsets) *resp->add_offsets() = std::move(o);
  return absl::OkStatus();
}

grpc::Status AdminService::GetOffsets(grpc::ServerContext* ctx, const v1::GetOffsetsRequest* req,
                                      v1::GetOffsetsResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return ToGrpcStatus(Offsets(req->pipeline(), resp));
}

grpc::Status AdminService::ResetOffsets(grpc::ServerContext* ctx,
                                        const v1::ResetOffsetsRequest* req,
                                        v1::GetOffsetsResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckResetOffsetsRequest(*req); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Pipeline> p = store_->GetPipeline(req->pipeline());
  if (!p.ok()) return ToGrpcStatus(p.status());
  const auto& topics = p->config().topics();
  if (std::find(topics.begin(), topics.end(), req->topic()) == topics.end()) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "topic: '", req->topic(), "' is not consumed by pipeline ", req->pipeline())));
  }
  if (req->partition() < -1) {
    return ToGrpcStatus(absl::InvalidArgumentError("partition: must be >= 0, or -1 for all"));
  }
  // What sluice_offsets will hold: an offset, or Kafka's logical -2 (earliest) / -1
  // (latest); nothing (the rows deleted) for an older client's -1.
  std::optional<int64_t> stored;
  switch (req->position()) {
    case v1::RESET_POSITION_EARLIEST:
      stored = -2;
      break;
    case v1::RESET_POSITION_LATEST:
      stored = -1;
      break;
    case v1::RESET_POSITION_OFFSET:
      if (req->next_offset() < 0) {
        return ToGrpcStatus(absl::InvalidArgumentError("next_offset: must be >= 0"));
      }
      stored = req->next_offset();
      break;
    case v1::RESET_POSITION_UNSPECIFIED:
      // Older clients: -1 deletes the stored offsets (auto.offset.reset applies).
      if (req->next_offset() < -1) {
        return ToGrpcStatus(absl::InvalidArgumentError(
            "next_offset: must be >= 0, or -1 to delete the stored offsets"));
      }
      if (req->next_offset() >= 0) stored = req->next_offset();
      break;
    default:
      return ToGrpcStatus(absl::InvalidArgumentError("position: unknown value"));
  }
  absl::Status reset = store_->ResetOffsets(req->pipeline(), req->topic(), req->partition(),
                                            stored, caller->name);
  if (!reset.ok()) return ToGrpcStatus(reset);
  return ToGrpcStatus(Offsets(req->pipeline(), resp));
}

namespace {

// A filter's values in their bounds (the pipeline is looked up by the caller).
absl::Status CheckDeadLetterFilter(const v1::DeadLetterFilter& f) {
  if (f.from_id() < 0 || f.to_id() < 0) {
    return absl::InvalidArgumentError("from_id, to_id: must be >= 0 (0: no bound)");
  }
  if (!f.sqlstate().empty()) {
    bool ok = f.sqlstate().size() == 5;
    for (char c : f.sqlstate()) ok = ok && ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'));
    if (!ok) return absl::InvalidArgumentError("sqlstate: must be five digits or capitals");
  }
  if (!v1::DeadLetterState_IsValid(f.state())) {
    return absl::InvalidArgumentError("state: unknown value");
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status AdminService::ListDeadLetters(grpc::ServerContext* ctx,
                                           const v1::ListDeadLettersRequest* req,
                                           v1::ListDeadLettersResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (req->limit() < 0 || req->limit() > 10000) {
    return ToGrpcStatus(absl::InvalidArgumentError("limit: must be within 0..10000"));
  }
  if (absl::Status s = CheckNameArg("filter.pipeline", req->filter().pipeline()); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (absl::Status s = CheckDeadLetterFilter(req->filter()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Pipeline> p = store_->GetPipeline(req->filter().pipeline());
  if (!p.ok()) return ToGrpcStatus(p.status());
  absl::StatusOr<v1::ListDeadLettersResponse> listed = store_->ListDeadLetters(
      p->config().consumer_group(), req->filter(), req->limit() == 0 ? 100 : req->limit());
  if (!listed.ok()) return ToGrpcStatus(listed.status());
  *resp = std::move(*listed);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetDeadLetter(grpc::ServerContext* ctx,
                                         const v1::GetDeadLetterRequest* req,
                                         v1::DeadLetter* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = CheckNameArg("pipeline", req->pipeline()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Pipeline> p = store_->GetPipeline(req->pipeline());
  if (!p.ok()) return ToGrpcStatus(p.status());
  absl::StatusOr<v1::DeadLetter> d = store_->GetDeadLetter(p->config().consumer_group(), req->id());
  if (!d.ok()) return ToGrpcStatus(d.status());
  *resp = std::move(*d);
  return grpc::Status::OK;
}

absl::StatusOr<v1::Pipeline> AdminService::DeadLetterWriteTarget(grpc::ServerContext* ctx,
                                                                 const v1::DeadLetterFilter& f,
                                                                 bool all, Caller* caller) {
  ASSIGN_OR_RETURN(*caller, auth_.Authorize(*ctx, Role::kAdmin));
  // A follower's refusal: its trailing metadata (the leader) is already on ctx.
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) {
    return absl::UnavailableError(s.error_message());
  }
  RETURN_IF_ERROR(CheckNameArg("filter.pipeline", f.pipeline()));
  RETURN_IF_ERROR(CheckDeadLetterFilter(f));
  if (f.from_id() == 0 && f.to_id() == 0 && f.sqlstate().empty() && !all) {
    return absl::InvalidArgumentError(
        "filter: name ids or a sqlstate, or set all to take every pending dead letter");
  }
  return store_->GetPipeline(f.pipeline());
}

grpc::Status AdminService::DiscardDeadLetters(grpc::ServerContext* ctx,
                                              const v1::DiscardDeadLettersRequest* req,
                                              v1::DiscardDeadLettersResponse* resp) {
  Caller caller;
  absl::StatusOr<v1::Pipeline> p = DeadLetterWriteTarget(ctx, req->filter(), req->all(), &caller);
  if (!p.ok()) return ToGrpcStatus(p.status());
  const v1::DeadLetterFilter& f = req->filter();
  absl::StatusOr<int64_t> n =
      store_->DiscardDeadLetters(f.pipeline(), p->config().consumer_group(), f, caller.name);
  if (!n.ok()) return ToGrpcStatus(n.status());
  resp->set_discarded(*n);
  return grpc::Status::OK;
}

grpc::Status AdminService::ReplayDeadLetters(grpc::ServerContext* ctx,
                                             const v1::ReplayDeadLettersRequest* req,
                                             v1::ReplayDeadLettersResponse* resp) {
  Caller caller;
  absl::StatusOr<v1::Pipeline> p = DeadLetterWriteTarget(ctx, req->filter(), req->all(), &caller);
  if (!p.ok()) return ToGrpcStatus(p.status());
  const v1::DeadLetterFilter& f = req->filter();
  // A change is scheduled at least the propagation lead ahead, so the schedule up
  // to now (taken before the flag is read) is final.
  const absl::Time now = clock_.Now();
  std::shared_ptr<const flags::FlagSchedule> schedule;
  if (p->config().has_rollout()) {
    // For dead letters no path was decided for: routed as of their timestamps.
    absl::StatusOr<v1::Flag> flag = store_->GetFlag(p->config().rollout().flag());
    if (!flag.ok()) return ToGrpcStatus(flag.status());
    schedule = std::make_shared<const flags::FlagSchedule>(*flag);
  }
  absl::StatusOr<v1::ReplayDeadLettersResponse> replayed =
      replayer_->Replay(p->config(), f, caller.name, std::move(schedule), now);
  if (!replayed.ok()) return ToGrpcStatus(replayed.status());
  *resp = *replayed;
  // After the commit: the replay's own transaction is on the ingestion connection.
  absl::Status audited = store_->RecordAudit(
      caller.name, "deadletters.replay", f.pipeline(),
      absl::StrCat("ids ", f.from_id() == 0 ? "*" : std::to_string(f.from_id()), "..",
                   f.to_id() == 0 ? "*" : std::to_string(f.to_id()),
                   f.sqlstate().empty() ? "" : absl::StrCat(" sqlstate ", f.sqlstate())),
      absl::StrCat(resp->replayed(), " replayed, ", resp->still_refused(), " still refused, ",
                   resp->left_pending(), " left pending"));
  if (!audited.ok()) LOG(WARNING) << "replay done but not audited: " << audited.message();
  return grpc::Status::OK;
}

grpc::Status AdminService::ListAudit(grpc::ServerContext* ctx, const v1::ListAuditRequest* req,
                                     v1::ListAuditResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (req->limit() < 0 || req->limit() > 10000) {
    return ToGrpcStatus(absl::InvalidArgumentError("limit: must be within 0..10000"));
  }
  if (absl::Status s = CheckListAuditRequest(*req); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<std::vector<v1::AuditEntry>> entries =
      store_->ListAudit(req->limit() == 0 ? 100 : req->limit(), req->target());
  if (!entries.ok()) return ToGrpcStatus(entries.status());
  for (v1::AuditEntry& e : *entries) *resp->add_entries() = std::move(e);
  return grpc::Status::OK;
}

grpc::Status AdminService::CreateFlag(grpc::ServerContext* ctx, const v1::CreateFlagRequest* req,
                                      v1::Flag* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckCreateFlagRequest(*req); !s.ok()) return ToGrpcStatus(s);
  v1::Flag flag;
  flag.set_name(req->name());
  flag.set_description(req->description());
  flag.set_salt(req->salt().empty() ? req->name() : req->salt());
  absl::StatusOr<v1::Flag> created = store_->CreateFlag(flag, caller->name);
  if (created.ok()) *resp = *created;
  return Reloaded(created.status());
}

grpc::Status AdminService::GetFlag(grpc::ServerContext* ctx, const v1::GetFlagRequest* req,
                                   v1::Flag* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Flag> f = store_->GetFlag(req->name());
  if (f.ok()) *resp = *f;
  return ToGrpcStatus(f.status());
}

grpc::Status AdminService::ListFlags(grpc::ServerContext* ctx, const v1::ListFlagsRequest*,
                                     v1::ListFlagsResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<std::vector<v1::Flag>> flags = store_->ListFlags();
  if (!flags.ok()) return ToGrpcStatus(flags.status());
  for (v1::Flag& f : *flags) *resp->add_flags() = std::move(f);
  return grpc::Status::OK;
}

grpc::Status AdminService::SetFlag(grpc::ServerContext* ctx, const v1::SetFlagRequest* req,
                                   v1::Flag* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = RequireExpectedVersion(req->expected_version(), "flags get"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Flag> current = store_->GetFlag(req->name());
  if (!current.ok()) return ToGrpcStatus(current.status());
  const absl::Time now = clock_.Now();
  absl::Time effective = now + flag_timing_.lead;
  if (req->has_effective_time()) {
    effective = ToAbslTime(req->effective_time());
  } else if (req->has_effective_in()) {
    const absl::Duration in = ToAbslDuration(req->effective_in());
    // Named here: ScheduleChange only sees the time, and would name effective_time.
    if (in > kMaxScheduleAhead) {
      return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
          "effective_in: must be at most 10 years, got ", absl::FormatDuration(in))));
    }
    effective = now + in;
  }
  absl::StatusOr<v1::Flag> changed =
      ScheduleChange(*current, req->basis_points(), effective, now, flag_timing_.lead);
  if (!changed.ok()) return ToGrpcStatus(changed.status());
  // The operator's percentage stands: a running ramp would otherwise schedule its
  // next step on top of it.
  *changed = StopRamp(*changed, absl::StrCat("stopped by ", caller->name));
  if (absl::Status s =
          CompactAndBoundSchedule(now, flag_timing_.schedule_retention, &*changed);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Flag> stored = store_->UpdateFlag(
      *changed, req->expected_version(), "flag.set", caller->name, flag_timing_.WriteDeadline(now));
  if (stored.ok()) *resp = *stored;
  return Reloaded(stored.status());
}

grpc::Status AdminService::RollbackFlag(grpc::ServerContext* ctx,
                                        const v1::RollbackFlagRequest* req, v1::Flag* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = RequireExpectedVersion(req->expected_version(), "flags get"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Flag> current = store_->GetFlag(req->name());
  if (!current.ok()) return ToGrpcStatus(current.status());
  const absl::Time now = clock_.Now();
  absl::StatusOr<v1::Flag> rolled = ScheduleRollback(*current, now, flag_timing_.lead);
  if (!rolled.ok()) return ToGrpcStatus(rolled.status());
  *rolled = StopRamp(*rolled, absl::StrCat("stopped by ", caller->name));
  // Compacted, never bounded: a rollback adds one change and must always work.
  flags::CompactSchedule(now - flag_timing_.schedule_retention, &*rolled);
  absl::StatusOr<v1::Flag> stored =
      store_->UpdateFlag(*rolled, req->expected_version(), "flag.rollback", caller->name,
                         flag_timing_.WriteDeadline(now));
  if (stored.ok()) *resp = *stored;
  return Reloaded(stored.status());
}

grpc::Status AdminService::RampFlag(grpc::ServerContext* ctx, const v1::RampFlagRequest* req,
                                    v1::Flag* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = RequireExpectedVersion(req->expected_version(), "flags get"); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Flag> current = store_->GetFlag(req->name());
  if (!current.ok()) return ToGrpcStatus(current.status());
  const absl::Time now = clock_.Now();
  absl::StatusOr<v1::Flag> ramped = StartRamp(
      *current, req->target_basis_points(), req->step_basis_points(), ToAbslDuration(req->every()),
      req->guards(), now, flag_timing_.lead, flag_timing_.min_guard_window);
  if (!ramped.ok()) return ToGrpcStatus(ramped.status());
  if (absl::Status s = CompactAndBoundSchedule(now, flag_timing_.schedule_retention, &*ramped);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<v1::Flag> stored = store_->UpdateFlag(
      *ramped, req->expected_version(), "flag.ramp", caller->name, flag_timing_.WriteDeadline(now));
  if (stored.ok()) *resp = *stored;
  return Reloaded(stored.status());
}

grpc::Status AdminService::KillFlag(grpc::ServerContext* ctx, const v1::KillFlagRequest* req,
                                    v1::Flag* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kAdmin);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  // No expected_version: a kill must not fail because someone (or the ramp) wrote
  // meanwhile. It is re-read and retried instead; each attempt is a compare-and-set
  // on the version it read, so nothing written meanwhile is overwritten unseen.
  absl::Status last;
  for (int attempt = 0; attempt < kKillAttempts; ++attempt) {
    absl::StatusOr<v1::Flag> current = store_->GetFlag(req->name());
    if (!current.ok()) return ToGrpcStatus(current.status());
    const absl::Time now = clock_.Now();
    v1::Flag killed = ScheduleKill(*current, caller->name, now, flag_timing_.lead);
    // Compacted, never bounded: like a rollback, a kill must always work.
    flags::CompactSchedule(now - flag_timing_.schedule_retention, &killed);
    absl::StatusOr<v1::Flag> stored = store_->UpdateFlag(
        killed, current->version(), "flag.kill", caller->name, flag_timing_.WriteDeadline(now));
    if (stored.ok()) {
      *resp = *stored;
      return Reloaded(absl::OkStatus());
    }
    last = stored.status();
    if (last.code() != absl::StatusCode::kAborted) break;
  }
  return ToGrpcStatus(last);
}

grpc::Status AdminService::GetFlagHolders(grpc::ServerContext* ctx,
                                          const v1::GetFlagHoldersRequest* req,
                                          v1::FlagHolders* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (grpc::Status s = RequireLeader(leadership_, ctx); !s.ok()) return s;
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  // The version the fleet serves (what holders can hold), not a newer one still
  // being loaded.
  const v1::FlagSnapshot snapshot = fleet_->FlagSnapshot();
  const v1::Flag* flag = nullptr;
  for (const v1::Flag& f : snapshot.flags()) {
    if (f.name() == req->name()) flag = &f;
  }
  if (flag == nullptr) {
    return ToGrpcStatus(absl::NotFoundError(absl::StrCat("flag ", req->name(), " not found")));
  }
  resp->set_name(flag->name());
  resp->set_version(flag->version());
  if (snapshot.has_schedule_known_until()) {
    *resp->mutable_schedule_known_until() = snapshot.schedule_known_until();
  }
  for (v1::FlagHolder& h : fleet_->FlagHolders(req->name())) *resp->add_holders() = std::move(h);
  return grpc::Status::OK;
}

grpc::Status AdminService::EvaluateFlag(grpc::ServerContext* ctx, const v1::EvaluateFlagRequest* req,
                                        v1::EvaluateFlagResponse* resp) {
  absl::StatusOr<Caller> caller = auth_.Authorize(*ctx, Role::kRead);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = CheckNameArg("name", req->name()); !s.ok()) return ToGrpcStatus(s);
  absl::StatusOr<v1::Flag> flag = store_->GetFlag(req->name());
  if (!flag.ok()) return ToGrpcStatus(flag.status());
  const absl::Time at = req->has_at() ? ToAbslTime(req->at()) : clock_.Now();
  const flags::Evaluation e = flags::FlagSchedule(*flag).Evaluate(req->key(), at);
  resp->set_in_rollout(e.in_rollout);
  resp->set_bucket(e.bucket);
  resp->set_basis_points(e.basis_points);
  return grpc::Status::OK;
}

}  // namespace sluice::controller
