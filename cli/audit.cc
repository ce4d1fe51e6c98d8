// sluicectl audit list [--limit N] [--target NAME]
#include "absl/strings/str_cat.h"
#include "cli/cli_context.h"
#include "cli/table_printer.h"

namespace sluice::cli {
namespace {

std::string Clip(const std::string& s, size_t n) {
  if (s.empty()) return "-";
  return s.size() <= n ? s : s.substr(0, n - 3) + "...";
}

}  // namespace

int RunAudit(const CliContext& ctx) {
  const std::vector<std::string>& pos = ctx.args().positional;
  if (pos.size() != 2 || pos[1] != "list") return ctx.Usage("audit list [--limit N] [--target NAME]");
  v1::ListAuditRequest req;
  req.set_limit(static_cast<int32_t>(ctx.args().limit));
  req.set_target(ctx.args().target);
  v1::ListAuditResponse resp;
  grpc::Status s = ctx.Read(&v1::Admin::Stub::ListAudit, req, &resp);
  if (!s.ok()) return ctx.Refused(s);
  if (ctx.args().json) {
    ctx.PrintJson(resp);
    return kExitOk;
  }
  TablePrinter t({"ID", "AT", "ACTOR", "ACTION", "TARGET", "OLD", "NEW"});
  for (const v1::AuditEntry& e : resp.entries()) {
    t.AddRow({absl::StrCat(e.id()), FormatTime(e.at()), e.actor(), e.action(), e.target(),
              Clip(e.old_value(), 50), Clip(e.new_value(), 50)});
  }
  t.Print(ctx.out());
  return kExitOk;
}

}  // namespace sluice::cli
