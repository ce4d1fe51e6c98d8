// sluicectl offsets get PIPELINE | offsets reset PIPELINE --topic T [--partition P]
//   --to N | --to-earliest | --to-latest
#include "absl/strings/str_cat.h"
#include "cli/cli_context.h"
#include "cli/table_printer.h"

namespace sluice::cli {

int RunOffsets(const CliContext& ctx) {
  const std::vector<std::string>& pos = ctx.args().positional;
  if (pos.size() != 3 || (pos[1] != "get" && pos[1] != "reset")) {
    return ctx.Usage("offsets get PIPELINE | offsets reset PIPELINE --topic T [--partition P] "
                     "(--to N | --to-earliest | --to-latest)");
  }
  v1::GetOffsetsResponse resp;
  grpc::Status s;
  if (pos[1] == "get") {
    v1::GetOffsetsRequest req;
    req.set_pipeline(pos[2]);
    s = ctx.Read(&v1::Admin::Stub::GetOffsets, req, &resp);
  } else {
    const CliArgs& a = ctx.args();
    if (a.topic.empty()) return ctx.Usage("offsets reset needs --topic");
    if (int(a.to_earliest) + int(a.to_latest) + int(a.to >= 0) != 1) {
      return ctx.Usage("offsets reset needs one of --to N, --to-earliest, --to-latest");
    }
    v1::ResetOffsetsRequest req;
    req.set_pipeline(pos[2]);
    req.set_topic(a.topic);
    req.set_partition(static_cast<int32_t>(a.partition));
    // next_offset is what a controller older than `position` reads: -1 made it
    // delete the offsets (auto.offset.reset: the earliest by default), and -2 it
    // refuses, so --to-latest never turns into a replay there.
    if (a.to_earliest) {
      req.set_position(v1::RESET_POSITION_EARLIEST);
      req.set_next_offset(-1);
    } else if (a.to_latest) {
      req.set_position(v1::RESET_POSITION_LATEST);
      req.set_next_offset(-2);
    } else {
      req.set_position(v1::RESET_POSITION_OFFSET);
      req.set_next_offset(a.to);
    }
    s = ctx.Write(&v1::Admin::Stub::ResetOffsets, req, &resp);
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
    const std::string next = o.next_offset() == -2   ? "earliest"
                             : o.next_offset() == -1 ? "latest"
                                                     : absl::StrCat(o.next_offset());
    t.AddRow({o.topic(), absl::StrCat(o.partition()), next,
              FormatTime(o.updated_at())});
  }
  t.Print(ctx.out());
  return kExitOk;
}

}  // namespace sluice::cli
