// sluicectl deadletters list|show|replay|discard PIPELINE
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/cli_context.h"
#include "cli/table_printer.h"
#include "common/dead_letter_state.h"

namespace sluice::cli {
namespace {

// The filter flags; "" or what is wrong.
std::string FilterFromFlags(const CliArgs& a, const std::string& pipeline,
                            v1::DeadLetterFilter* f) {
  f->set_pipeline(pipeline);
  f->set_from_id(a.from_id);
  f->set_to_id(a.to_id);
  f->set_sqlstate(a.sqlstate);
  if (a.state.empty() || a.state == "all") return "";
  const v1::DeadLetterState state = DeadLetterStateOf(a.state);
  if (state == v1::DEAD_LETTER_STATE_UNSPECIFIED) {
    return absl::StrCat("--state: '", a.state, "' is not pending, replayed, discarded or all");
  }
  f->set_state(state);
  return "";
}

// Bytes as text when they are printable UTF-8-ish, else C-escaped.
std::string Printable(const std::string& bytes) { return absl::CHexEscape(bytes); }

}  // namespace

int RunDeadLetters(const CliContext& ctx) {
  const std::vector<std::string>& pos = ctx.args().positional;
  const std::string usage =
      "deadletters list PIPELINE [--from-id N] [--to-id N] [--sqlstate S] [--state S] "
      "[--limit N] | deadletters show PIPELINE ID | deadletters replay|discard PIPELINE "
      "(--from-id N | --to-id N | --sqlstate S | --all)";
  if (pos.size() < 3) return ctx.Usage(usage);
  const std::string& verb = pos[1];
  const std::string& pipeline = pos[2];
  const CliArgs& a = ctx.args();
  if (verb == "list" && pos.size() == 3) {
    v1::ListDeadLettersRequest req;
    if (std::string e = FilterFromFlags(a, pipeline, req.mutable_filter()); !e.empty()) {
      return ctx.Usage(e);
    }
    req.set_limit(static_cast<int32_t>(a.Given("limit") ? a.limit : 100));
    v1::ListDeadLettersResponse resp;
    grpc::Status s = ctx.Read(&v1::Admin::Stub::ListDeadLetters, req, &resp);
    if (!s.ok()) return ctx.Refused(s);
    if (a.json) {
      ctx.PrintJson(resp);
      return kExitOk;
    }
    ctx.out() << "pipeline " << pipeline << ": " << resp.pending() << " pending, "
              << resp.replayed() << " replayed, " << resp.discarded() << " discarded\n";
    TablePrinter t({"ID", "TOPIC", "PARTITION", "OFFSET", "SQLSTATE", "STATE", "FAILED", "ERROR"});
    for (const v1::DeadLetter& d : resp.dead_letters()) {
      std::string error = d.error();
      if (error.size() > 80) error = error.substr(0, 77) + "...";
      t.AddRow({absl::StrCat(d.id()), d.topic(), absl::StrCat(d.partition()),
                absl::StrCat(d.offset()), d.sqlstate(), DeadLetterStateName(d.state()),
                FormatTime(d.failed_at()), error});
    }
    t.Print(ctx.out());
    return kExitOk;
  }
  if (verb == "show" && pos.size() == 4) {
    v1::GetDeadLetterRequest req;
    req.set_pipeline(pipeline);
    int64_t id = 0;
    if (!absl::SimpleAtoi(pos[3], &id) || id <= 0) {
      return ctx.Usage(absl::StrCat("deadletters show: '", pos[3], "' is not an id"));
    }
    req.set_id(id);
    v1::DeadLetter d;
    grpc::Status s = ctx.Read(&v1::Admin::Stub::GetDeadLetter, req, &d);
    if (!s.ok()) return ctx.Refused(s);
    if (a.json) {
      ctx.PrintJson(d);
      return kExitOk;
    }
    ctx.out() << "id:        " << d.id() << "\n"
              << "message:   " << d.topic() << "/" << d.partition() << " offset " << d.offset()
              << "\n"
              << "state:     " << DeadLetterStateName(d.state())
              << (d.handled_by().empty()
                      ? ""
                      : absl::StrCat(" by ", d.handled_by(), " at ", FormatTime(d.handled_at())))
              << "\n"
              << "failed at: " << FormatTime(d.failed_at()) << "\n"
              << "sqlstate:  " << d.sqlstate() << "\n"
              << "error:     " << d.error() << "\n"
              << "timestamp: " << (d.has_timestamp() ? FormatTime(d.timestamp()) : "(none)") << "\n"
              << "path:      " << (d.path().empty() ? "(none decided)" : d.path()) << "\n"
              << "key:       " << (d.has_key() ? Printable(d.key()) : "(none)") << "\n";
    for (const v1::DeadLetterHeader& h : d.headers()) {
      ctx.out() << "header:    " << Printable(h.name()) << " = "
                << (h.has_value() ? Printable(h.value()) : "(no value)") << "\n";
    }
    ctx.out() << "payload:   " << (d.has_payload() ? Printable(d.payload()) : "(tombstone)")
              << "\n";
    return kExitOk;
  }
  if (verb == "replay" && pos.size() == 3) {
    v1::ReplayDeadLettersRequest req;
    if (std::string e = FilterFromFlags(a, pipeline, req.mutable_filter()); !e.empty()) {
      return ctx.Usage(e);
    }
    req.set_all(a.all);
    v1::ReplayDeadLettersResponse resp;
    grpc::Status s = ctx.Write(&v1::Admin::Stub::ReplayDeadLetters, req, &resp);
    if (!s.ok()) return ctx.Refused(s);
    if (a.json) {
      ctx.PrintJson(resp);
      return kExitOk;
    }
    ctx.out() << "replayed " << resp.replayed() << " of " << resp.selected()
              << " pending dead letters of pipeline " << pipeline << "; " << resp.still_refused()
              << " refused again (still pending, with the new reason)\n";
    if (resp.left_pending() > 0) {
      ctx.out() << resp.left_pending()
                << " left pending, not attempted; the first: " << resp.left_pending_reason()
                << "\n";
    }
    return kExitOk;
  }
  if (verb == "discard" && pos.size() == 3) {
    v1::DiscardDeadLettersRequest req;
    if (std::string e = FilterFromFlags(a, pipeline, req.mutable_filter()); !e.empty()) {
      return ctx.Usage(e);
    }
    req.set_all(a.all);
    v1::DiscardDeadLettersResponse resp;
    grpc::Status s = ctx.Write(&v1::Admin::Stub::DiscardDeadLetters, req, &resp);
    if (!s.ok()) return ctx.Refused(s);
    if (a.json) {
      ctx.PrintJson(resp);
      return kExitOk;
    }
    ctx.out() << "discarded " << resp.discarded() << " dead letters of pipeline " << pipeline
              << "\n";
    return kExitOk;
  }
  return ctx.Usage(usage);
}

}  // namespace sluice::cli
