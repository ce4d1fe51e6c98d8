// sluicectl workers list|get|drain
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/cli_context.h"
#include "cli/table_printer.h"

namespace sluice::cli {
namespace {

void PrintWorkers(const CliContext& ctx, const std::vector<const v1::WorkerInfo*>& workers) {
  TablePrinter t({"WORKER", "VERSION", "HOST", "PID", "STATE", "PIPELINES", "APPLIED", "PENDING",
                  "LAST NACK", "LAST SEEN"});
  for (const v1::WorkerInfo* w : workers) {
    std::string state = w->connected() ? "connected" : "disconnected";
    if (w->draining()) state += ",draining";
    t.AddRow({w->worker_id(), w->build_version(), w->host(), absl::StrCat(w->pid()), state,
              absl::StrJoin(w->pipelines(), ","),
              w->applied_config_version().empty() ? "-" : w->applied_config_version(),
              w->pending_config_version().empty() ? "-" : w->pending_config_version(),
              w->last_nack().empty() ? "-" : w->last_nack(), FormatTime(w->last_seen())});
  }
  t.Print(ctx.out());
}

}  // namespace

int RunWorkers(const CliContext& ctx) {
  const std::vector<std::string>& pos = ctx.args().positional;
  if (pos.size() < 2) return ctx.Usage("workers needs a verb: list|get|drain");
  const std::string& verb = pos[1];
  if (verb == "list") {
    v1::ListWorkersResponse resp;
    grpc::Status s = ctx.Read(&v1::Admin::Stub::ListWorkers, {}, &resp);
    if (!s.ok()) return ctx.Refused(s);
    if (ctx.args().json) {
      ctx.PrintJson(resp);
      return kExitOk;
    }
    std::vector<const v1::WorkerInfo*> all;
    for (const v1::WorkerInfo& w : resp.workers()) all.push_back(&w);
    PrintWorkers(ctx, all);
    return kExitOk;
  }
  if (verb != "get" && verb != "drain") return ctx.Usage(absl::StrCat("unknown verb workers ", verb));
  if (pos.size() != 3) return ctx.Usage(absl::StrCat("workers ", verb, " takes one WORKER_ID"));
  v1::WorkerInfo resp;
  grpc::Status s;
  if (verb == "get") {
    v1::GetWorkerRequest req;
    req.set_worker_id(pos[2]);
    s = ctx.Read(&v1::Admin::Stub::GetWorker, req, &resp);
  } else {
    v1::DrainWorkerRequest req;
    req.set_worker_id(pos[2]);
    s = ctx.Write(&v1::Admin::Stub::DrainWorker, req, &resp);
  }
  if (!s.ok()) return ctx.Refused(s);
  if (ctx.args().json) {
    ctx.PrintJson(resp);
  } else {
    PrintWorkers(ctx, {&resp});
  }
  return kExitOk;
}

}  // namespace sluice::cli
