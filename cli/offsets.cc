// sluicectl offsets get PIPELINE | offsets reset PIPELINE --topic T [--partition P] --to N|--to-earliest
#include "absl/strings/str_cat.h"
#include "cli/cli_context.h"
#include "cli/table_printer.h"

namespace sluice::cli {

int RunOffsets(const CliContext& ctx) {
  const std::vector<std::string>& pos = ctx.args().positional;
  if (pos.size() != 3 || (pos[1] != "get" && pos[1] != "reset")) {
    return ctx.Usage("offsets get PIPELINE | offsets reset PIPELINE --topic T [--partition P] "
                     "(--to N | --to-earliest)");
  }
  v1::GetOffsetsResponse resp;
  grpc::Status s;
  if (pos[1] == "get") {
    v1::GetOffsetsRequest req;
    req.set_pipeline(pos[2]);
    s = ctx.admin().GetOffsets(ctx.Call().get(), req, &resp);
  } else {
    const CliArgs& a = ctx.args();
    if (a.topic.empty()) return ctx.Usage("offsets reset needs --topic");
    if (a.to_earliest == (a.to >= 0)) return ctx.Usage("offsets reset needs one of --to N, --to-earliest");
    v1::ResetOffsetsRequest req;
    req.set_pipeline(pos[2]);
    req.set_topic(a.topic);
    req.set_partition(static_cast<int32_t>(a.partition));
    req.set_next_offset(a.to_earliest ? -1 : a.to);
    s = ctx.admin().ResetOffsets(ctx.Call().get(), req, &resp);
  }
  if (!s.ok()) return ctx.Refused(s);
  if (ctx.args().json) {
    ctx.PrintJson(resp);
    return kExitOk;
  }
  ctx.out() << "pipeline " << resp.pipeline() << ", consumer group " << resp.consumer_group()
            << "\n";
  TablePrinter t({"TOPIC", "PARTITION", "NEXT OFFSET", "UPDATED"});
  for (const v1::PartitionOffset& o : resp.offsets()) {
    t.AddRow({o.topic(), absl::StrCat(o.partition()), absl::StrCat(o.next_offset()),
              FormatTime(o.updated_at())});
  }
  t.Print(ctx.out());
  return kExitOk;
}

}  // namespace sluice::cli
