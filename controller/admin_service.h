// The Admin service behind sluicectl.
#ifndef SLUICE_CONTROLLER_ADMIN_SERVICE_H_
#define SLUICE_CONTROLLER_ADMIN_SERVICE_H_

#include "controller/call_authorizer.h"
#include "controller/dead_letter_replayer.h"
#include "controller/flag_scheduler.h"
#include "controller/fleet.h"
#include "controller/leadership.h"
#include "controller/state_store.h"
#include "controller/state_sync.h"
#include "controller/stats_aggregator.h"
#include "controller/target_table_checker.h"
#include "sluice/v1/admin.grpc.pb.h"

namespace sluice::controller {

class AdminService final : public v1::Admin::Service {
 public:
  // `flag_timing`: how far in the future flag changes must take effect, and how
  // long past changes are kept. Every call
  // is authorised by `auth` first: reads need the read role, writes admin; the
  // audit log's actor is the caller's token name.
  // `sync` makes the fleet see the stored state after every write.
  // Writes, and reads of what only the leader knows (the workers, their stats and
  // what they hold), are refused on a follower (`leadership`) with UNAVAILABLE
  // naming the leader; reads of the stored state are answered by every replica.
  AdminService(StateStore* store, Fleet* fleet, StateSync* sync, StatsAggregator* stats,
               const Clock& clock, FlagTiming flag_timing, const CallAuthorizer& auth,
               const Leadership& leadership, DeadLetterReplayer* replayer,
               const TargetTableChecker* table_checker)
      : store_(store),
        fleet_(fleet),
        sync_(sync),
        stats_(stats),
        clock_(clock),
        flag_timing_(flag_timing),
        auth_(auth),
        leadership_(leadership),
        replayer_(replayer),
        table_checker_(table_checker) {}

  grpc::Status CreatePipeline(grpc::ServerContext* ctx, const v1::CreatePipelineRequest* req,
                              v1::Pipeline* resp) override;
  grpc::Status GetPipeline(grpc::ServerContext* ctx, const v1::GetPipelineRequest* req,
                           v1::Pipeline* resp) override;
  grpc::Status ListPipelines(grpc::ServerContext* ctx, const v1::ListPipelinesRequest* req,
                             v1::ListPipelinesResponse* resp) override;
  grpc::Status UpdatePipeline(grpc::ServerContext* ctx, const v1::UpdatePipelineRequest* req,
                              v1::Pipeline* resp) override;
  grpc::Status DeletePipeline(grpc::ServerContext* ctx, const v1::DeletePipelineRequest* req,
                              v1::DeletePipelineResponse* resp) override;
  grpc::Status ValidatePipeline(grpc::ServerContext* ctx, const v1::ValidatePipelineRequest* req,
                                v1::ValidatePipelineResponse* resp) override;
  grpc::Status PausePipeline(grpc::ServerContext* ctx, const v1::PausePipelineRequest* req,
                             v1::Pipeline* resp) override;
  grpc::Status ResumePipeline(grpc::ServerContext* ctx, const v1::ResumePipelineRequest* req,
                              v1::Pipeline* resp) override;
  grpc::Status GetPipelineStatus(grpc::ServerContext* ctx,
                                 const v1::GetPipelineStatusRequest* req,
                                 v1::PipelineStatus* resp) override;
  grpc::Status ListWorkers(grpc::ServerContext* ctx, const v1::ListWorkersRequest* req,
                           v1::ListWorkersResponse* resp) override;
  grpc::Status GetWorker(grpc::ServerContext* ctx, const v1::GetWorkerRequest* req,
                         v1::WorkerInfo* resp) override;
  grpc::Status DrainWorker(grpc::ServerContext* ctx, const v1::DrainWorkerRequest* req,
                           v1::WorkerInfo* resp) override;
  grpc::Status GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                        v1::GetStatsResponse* resp) override;
  grpc::Status GetOffsets(grpc::ServerContext* ctx, const v1::GetOffsetsRequest* req,
                          v1::GetOffsetsResponse* resp) override;
  grpc::Status ListDeadLetters(grpc::ServerContext* ctx, const v1::ListDeadLettersRequest* req,
                               v1::ListDeadLettersResponse* resp) override;
  grpc::Status GetDeadLetter(grpc::ServerContext* ctx, const v1::GetDeadLetterRequest* req,
                             v1::DeadLetter* resp) override;
  grpc::Status DiscardDeadLetters(grpc::ServerContext* ctx,
                                  const v1::DiscardDeadLettersRequest* req,
                                  v1::DiscardDeadLettersResponse* resp) override;
  grpc::Status ReplayDeadLetters(grpc::ServerContext* ctx, const v1::ReplayDeadLettersRequest* req,
                                 v1::ReplayDeadLettersResponse* resp) override;
  grpc::Status ResetOffsets(grpc::ServerContext* ctx, const v1::ResetOffsetsRequest* req,
                            v1::GetOffsetsResponse* resp) override;
  grpc::Status ListAudit(grpc::ServerContext* ctx, const v1::ListAuditRequest* req,
                         v1::ListAuditResponse* resp) override;
  grpc::Status CreateFlag(grpc::ServerContext* ctx, const v1::CreateFlagRequest* req,
                          v1::Flag* resp) override;
  grpc::Status GetFlag(grpc::ServerContext* ctx, const v1::GetFlagRequest* req,
                       v1::Flag* resp) override;
  grpc::Status ListFlags(grpc::ServerContext* ctx, const v1::ListFlagsRequest* req,
                         v1::ListFlagsResponse* resp) override;
  grpc::Status SetFlag(grpc::ServerContext* ctx, const v1::SetFlagRequest* req,
                       v1::Flag* resp) override;
  grpc::Status RollbackFlag(grpc::ServerContext* ctx, const v1::RollbackFlagRequest* req,
                            v1::Flag* resp) override;
  grpc::Status KillFlag(grpc::ServerContext* ctx, const v1::KillFlagRequest* req,
                        v1::Flag* resp) override;
  grpc::Status GetFlagHolders(grpc::ServerContext* ctx, const v1::GetFlagHoldersRequest* req,
                              v1::FlagHolders* resp) override;
  grpc::Status EvaluateFlag(grpc::ServerContext* ctx, const v1::EvaluateFlagRequest* req,
                            v1::EvaluateFlagResponse* resp) override;
  grpc::Status RampFlag(grpc::ServerContext* ctx, const v1::RampFlagRequest* req,
                        v1::Flag* resp) override;

 private:
  absl::Status Offsets(const std::string& pipeline, v1::GetOffsetsResponse* resp);
  // What a dead-letter write (discard, replay) is about: the caller (admin role, on
  // the leader), the filter checked, and its pipeline.
  absl::StatusOr<v1::Pipeline> DeadLetterWriteTarget(grpc::ServerContext* ctx,
                                                     const v1::DeadLetterFilter& filter, bool all,
                                                     Caller* caller);
  // Defaults, validation, and the rollout's flag must exist.
  // `stored`: the pipeline's stored config, null when it does not exist yet.
  absl::StatusOr<v1::PipelineConfig> CheckedPipeline(v1::PipelineConfig config,
                                                     const v1::PipelineConfig* stored);
  // After a successful write: the fleet sees the new state.
  grpc::Status Reloaded(const absl::Status& write);

  StateStore* store_;
  Fleet* fleet_;
  StateSync* sync_;
  StatsAggregator* stats_;
  const Clock& clock_;
  const FlagTiming flag_timing_;
  const CallAuthorizer& auth_;
  const Leadership& leadership_;
  DeadLetterReplayer* const replayer_;
  const TargetTableChecker* const table_checker_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_ADMIN_SERVICE_H_
