// sluicectl flags list|get|create|set|history|eval|rollback|kill|ramp|status|holders
#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/cli_context.h"
#include "cli/table_printer.h"
#include "common/proto_time.h"
#include "flags/flagd_configuration.h"
#include "flags/routing_key.h"

namespace sluice::cli {
namespace {

using google::protobuf::util::TimeUtil;

std::string PercentText(uint32_t basis_points) {
  return absl::StrFormat("%.2f%%", basis_points / 100.0);
}

// The percentage in effect now and the next scheduled change, if any.
std::pair<std::string, std::string> NowAndNext(const v1::Flag& f) {
  const absl::Time now = absl::Now();
  uint32_t current = 0;
  std::string next = "-";
  for (const v1::PercentageChange& c : f.schedule()) {
    if (ToAbslTime(c.effective_time()) <= now) {
      current = c.basis_points();
    } else if (next == "-") {
      next = absl::StrCat(PercentText(c.basis_points()), " at ", FormatTime(c.effective_time()));
    }
  }
  return {PercentText(current), next};
}

// Who holds which version: workers acknowledge what they hold, watchers do not.
void PrintHolders(const CliContext& ctx, const v1::FlagHolders& holders) {
  int workers = 0, workers_current = 0, watchers = 0, watchers_current = 0;
  for (const v1::FlagHolder& h : holders.holders()) {
    const bool current = h.version() == holders.version();
    if (h.kind() == v1::FlagHolder::KIND_WORKER) {
      ++workers;
      workers_current += current;
    } else {
      ++watchers;
      watchers_current += current;
    }
  }
  ctx.out() << "holders of version " << holders.version() << ": " << workers_current << " of "
            << workers << " workers (acknowledged), " << watchers_current << " of " << watchers
            << " watchers (sent)\n";
  // How far evaluators may route: items later than this wait (workers) or are
  // refused (FlagClient).
  ctx.out() << "schedule known until: "
            << (holders.has_schedule_known_until()
                    ? absl::StrCat(FormatTime(holders.schedule_known_until()), " (",
                                   absl::FormatDuration(absl::Trunc(
                                       ToAbslTime(holders.schedule_known_until()) - absl::Now(),
                                       absl::Milliseconds(100))),
                                   " from now)")
                    : std::string("not yet (workers hold timestamped items)"))
            << "\n";
  if (holders.holders().empty()) return;
  TablePrinter t({"HOLDER", "KIND", "CONNECTED", "VERSION", "CURRENT"});
  for (const v1::FlagHolder& h : holders.holders()) {
    t.AddRow({h.id(), h.kind() == v1::FlagHolder::KIND_WORKER ? "worker" : "watcher",
              h.connected() ? "yes" : "no", absl::StrCat(h.version()),
              h.version() == holders.version() ? "yes" : "no"});
  }
  t.Print(ctx.out());
}

}  // namespace

// "12.5" → 1250. Returns an error text naming `flag`.
std::string ParsePercent(const std::string& text, uint32_t* basis_points,
                         const std::string& flag) {
  std::vector<std::string> parts = absl::StrSplit(text, '.');
  uint32_t whole = 0, fraction = 0;
  if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &whole) ||
      (parts.size() == 2 && (parts[1].empty() || parts[1].size() > 2 ||
                             !absl::SimpleAtoi(parts[1], &fraction)))) {
    return absl::StrCat(flag, ": '", text,
                        "' is not a percentage with at most 2 decimals (0.01% steps)");
  }
  if (parts.size() == 2 && parts[1].size() == 1) fraction *= 10;
  // Checked before scaling: whole * 100 wraps for whole >= 42949673.
  if (whole > 100 || (whole == 100 && fraction > 0)) {
    return absl::StrCat(flag, ": '", text, "' is more than 100");
  }
  *basis_points = whole * 100 + fraction;
  return "";
}

int RunFlags(const CliContext& ctx) {
  const std::vector<std::string>& pos = ctx.args().positional;
  const CliArgs& a = ctx.args();
  if (pos.size() < 2) {
    return ctx.Usage(
        "flags needs a verb: "
        "list|get|create|set|history|eval|rollback|kill|ramp|status|holders|flagd-config");
  }
  const std::string& verb = pos[1];
  if (verb == "flagd-config") {
    // What the controller's flagd sync listener serves (docs/OPENFEATURE.md): every
    // flag in flagd's flag-configuration JSON, for a flagd file source or a look.
    if (pos.size() != 2) return ctx.Usage("flags flagd-config takes no operand");
    v1::ListFlagsResponse resp;
    grpc::Status s = ctx.Read(&v1::Admin::Stub::ListFlags, {}, &resp);
    if (!s.ok()) return ctx.Refused(s);
    // In the controller's order (by name, bytewise), whatever the database's collation.
    std::vector<const v1::Flag*> sorted;
    for (const v1::Flag& f : resp.flags()) sorted.push_back(&f);
    std::sort(sorted.begin(), sorted.end(),
              [](const v1::Flag* a, const v1::Flag* b) { return a->name() < b->name(); });
    v1::FlagSnapshot snapshot;
    uint64_t revision = 0;  // as the controller counts it: the sum of the versions
    for (const v1::Flag* f : sorted) {
      *snapshot.add_flags() = *f;
      revision += f->version();
    }
    snapshot.set_revision(revision);
    ctx.out() << flags::FlagdConfiguration(snapshot) << "\n";
    return kExitOk;
  }
  if (verb == "list") {
    v1::ListFlagsResponse resp;
    grpc::Status s = ctx.Read(&v1::Admin::Stub::ListFlags, {}, &resp);
    if (!s.ok()) return ctx.Refused(s);
    if (a.json) {
      ctx.PrintJson(resp);
      return kExitOk;
    }
    TablePrinter t({"NAME", "VERSION", "NOW", "NEXT", "SALT", "DESCRIPTION"});
    for (const v1::Flag& f : resp.flags()) {
      auto [now, next] = NowAndNext(f);
      t.AddRow({f.name(), absl::StrCat(f.version()), now, next, f.salt(), f.description()});
    }
    t.Print(ctx.out());
    return kExitOk;
  }
  if (verb == "eval") {
    // The key is given, or read from a payload by the rule the workers use.
    std::string key;
    if (a.Given("payload")) {
      if (pos.size() != 3) return ctx.Usage("flags eval NAME takes a KEY or --payload, not both");
      if (!absl::StartsWith(a.routing_key, "json:") || a.routing_key.size() == 5) {
        return ctx.Usage("--payload needs --routing-key json:FIELD");
      }
      v1::RoutingKeyForm form = v1::ROUTING_KEY_FORM_RAW_JSON;
      if (!a.key_form.empty() && !ParseKeyForm(a.key_form, &form)) {
        return ctx.Usage(absl::StrCat("--key-form: '", a.key_form, "' is not raw or minified"));
      }
      key = flags::JsonFieldKey(a.payload, a.routing_key.substr(5), form);
    } else {
      if (pos.size() != 4) return ctx.Usage("flags eval NAME KEY [--at TIME]");
      key = pos[3];
    }
    v1::EvaluateFlagRequest req;
    req.set_name(pos[2]);
    req.set_key(key);
    if (!a.at.empty()) {
      if (std::string e = ParseTimeFlag("--at", a.at, req.mutable_at()); !e.empty()) {
        return ctx.Usage(e);
      }
    }
    v1::EvaluateFlagResponse resp;
    grpc::Status s = ctx.Read(&v1::Admin::Stub::EvaluateFlag, req, &resp);
    if (!s.ok()) return ctx.Refused(s);
    if (a.json) {
      ctx.PrintJson(resp);
    } else {
      ctx.out() << key << ": " << (resp.in_rollout() ? "kafka" : "legacy") << " (bucket "
                << resp.bucket() << " " << (resp.in_rollout() ? "<" : ">=") << " "
                << resp.basis_points() << " = " << PercentText(resp.basis_points()) << ")\n";
    }
    return kExitOk;
  }
  if (pos.size() != 3) return ctx.Usage(absl::StrCat("flags ", verb, " takes one NAME"));
  const std::string& name = pos[2];
  v1::Flag flag;
  grpc::Status s;
  if (verb == "holders") {
    v1::GetFlagHoldersRequest req;
    req.set_name(name);
    v1::FlagHolders holders;
    grpc::Status hs = ctx.Read(&v1::Admin::Stub::GetFlagHolders, req, &holders);
    if (!hs.ok()) return ctx.Refused(hs);
    if (a.json) {
      ctx.PrintJson(holders);
    } else {
      PrintHolders(ctx, holders);
    }
    return kExitOk;
  }
  if (verb == "get" || verb == "history" || verb == "status") {
    v1::GetFlagRequest req;
    req.set_name(name);
    s = ctx.Read(&v1::Admin::Stub::GetFlag, req, &flag);
  } else if (verb == "create") {
    v1::CreateFlagRequest req;
    req.set_name(name);
    req.set_description(a.description);
    req.set_salt(a.salt);
    s = ctx.Write(&v1::Admin::Stub::CreateFlag, req, &flag);
  } else if (verb == "set") {
    if (a.expected_version <= 0) return ctx.Usage("flags set needs --expected-version (from flags get)");
    if (a.percent.empty()) return ctx.Usage("flags set needs --percent");
    v1::SetFlagRequest req;
    req.set_name(name);
    req.set_expected_version(static_cast<uint64_t>(a.expected_version));
    uint32_t bp = 0;
    if (std::string e = ParsePercent(a.percent, &bp); !e.empty()) return ctx.Usage(e);
    req.set_basis_points(bp);
    if (!a.at.empty() && a.Given("in")) return ctx.Usage("give --at or --in, not both");
    if (!a.at.empty()) {
      if (std::string e = ParseTimeFlag("--at", a.at, req.mutable_effective_time());
          !e.empty()) {
        return ctx.Usage(e);
      }
    } else if (a.Given("in")) {
      *req.mutable_effective_in() = ToProtoDuration(a.in);
    }
    s = ctx.Write(&v1::Admin::Stub::SetFlag, req, &flag);
  } else if (verb == "ramp") {
    if (a.expected_version <= 0) return ctx.Usage("flags ramp needs --expected-version (from flags get)");
    if (a.ramp_to.empty() || a.step.empty() || a.every == absl::ZeroDuration()) {
      return ctx.Usage("flags ramp needs --to, --step and --every");
    }
    v1::RampFlagRequest req;
    req.set_name(name);
    req.set_expected_version(static_cast<uint64_t>(a.expected_version));
    uint32_t to = 0, step = 0;
    if (std::string e = ParsePercent(a.ramp_to, &to, "--to"); !e.empty()) return ctx.Usage(e);
    if (std::string e = ParsePercent(a.step, &step, "--step"); !e.empty()) return ctx.Usage(e);
    if (step == 0) return ctx.Usage(absl::StrCat("--step: '", a.step, "' is less than 0.01"));
    req.set_target_basis_points(to);
    req.set_step_basis_points(step);
    *req.mutable_every() = ToProtoDuration(a.every);
    v1::RampGuards* g = req.mutable_guards();
    g->set_max_dead_letter_rate(a.max_dead_letter_rate);
    g->set_max_write_error_rate(a.max_error_rate);
    g->set_max_freshness_p99_ms(absl::ToDoubleMilliseconds(a.max_freshness_p99));
    g->set_rollback_on_breach(a.rollback_on_breach);
    // Sent whenever given: the controller refuses a window too short to judge by.
    if (a.Given("guard-window")) *g->mutable_window() = ToProtoDuration(a.guard_window);
    g->set_min_items(static_cast<uint64_t>(a.min_items));
    g->set_min_batches(static_cast<uint64_t>(a.min_batches));
    s = ctx.Write(&v1::Admin::Stub::RampFlag, req, &flag);
  } else if (verb == "rollback") {
    if (a.expected_version <= 0) {
      return ctx.Usage("flags rollback needs --expected-version (from flags get)");
    }
    v1::RollbackFlagRequest req;
    req.set_name(name);
    req.set_expected_version(static_cast<uint64_t>(a.expected_version));
    s = ctx.Write(&v1::Admin::Stub::RollbackFlag, req, &flag);
  } else if (verb == "kill") {
    v1::KillFlagRequest req;
    req.set_name(name);
    s = ctx.Write(&v1::Admin::Stub::KillFlag, req, &flag);
  } else {
    return ctx.Usage(absl::StrCat("unknown verb flags ", verb));
  }
  if (!s.ok()) return ctx.Refused(s);
  if (a.json) {
    ctx.PrintJson(flag);
    return kExitOk;
  }
  if (verb == "status") {
    auto [now_pct, next] = NowAndNext(flag);
    ctx.out() << "flag " << flag.name() << " version " << flag.version() << ": " << now_pct
              << " now, next " << next << "\n";
    v1::GetFlagHoldersRequest req;
    req.set_name(flag.name());
    v1::FlagHolders holders;
    if (grpc::Status hs = ctx.Read(&v1::Admin::Stub::GetFlagHolders, req, &holders); hs.ok()) {
      PrintHolders(ctx, holders);
    } else {
      ctx.out() << "holders: unknown (" << hs.error_message() << ")\n";
    }
    if (!flag.has_ramp()) {
      ctx.out() << "no ramp\n";
      return kExitOk;
    }
    const v1::Ramp& r = flag.ramp();
    static const char* kStates[] = {"-", "running", "done", "halted"};
    ctx.out() << "ramp: " << kStates[r.state()] << ", to " << PercentText(r.target_basis_points())
              << " by " << PercentText(r.step_basis_points()) << " every "
              << FormatDuration(r.every()) << ", last good " << PercentText(r.last_good_basis_points());
    if (r.state() == v1::Ramp::STATE_RUNNING) ctx.out() << ", next step " << FormatTime(r.next_step_time());
    ctx.out() << "\n";
    if (r.state() == v1::Ramp::STATE_RUNNING && !r.waiting_reason().empty()) {
      ctx.out() << r.waiting_reason() << "\n";
    }
    const v1::RampGuards& g = r.guards();
    ctx.out() << "guards: dead-letter rate <= "
              << (g.max_dead_letter_rate() > 0 ? absl::StrCat(g.max_dead_letter_rate()) : "off")
              << ", write error rate <= "
              << (g.max_write_error_rate() > 0 ? absl::StrCat(g.max_write_error_rate()) : "off")
              << ", p99 freshness <= "
              << (g.max_freshness_p99_ms() > 0 ? absl::StrCat(g.max_freshness_p99_ms(), "ms")
                                               : "off")
              << (g.rollback_on_breach() ? ", roll back on breach" : "") << "; each step needs "
              << (g.min_items() > 0 ? g.min_items() : 1000) << " items and "
              << (g.min_batches() > 0 ? g.min_batches() : 10) << " batches on the Kafka path"
              << (g.has_window() && ToAbslDuration(g.window()) > absl::ZeroDuration()
                      ? absl::StrCat(" over ", FormatDuration(g.window()))
                      : " over the step interval")
              << "\n";
    if (r.state() == v1::Ramp::STATE_HALTED) ctx.out() << "halted: " << r.halt_reason() << "\n";
    return kExitOk;
  }
  if (verb == "history") {
    TablePrinter t({"EFFECTIVE", "PERCENT", "STATE", "CHANGE"});
    const absl::Time now = absl::Now();
    static const char* kKinds[] = {"set", "rollback", "kill", "unknown"};
    for (const v1::PercentageChange& c : flag.schedule()) {
      t.AddRow({FormatTime(c.effective_time()), PercentText(c.basis_points()),
                ToAbslTime(c.effective_time()) <= now ? "effective" : "scheduled",
                c.kind() >= 0 && c.kind() <= 3 ? kKinds[c.kind()] : "?"});
    }
    ctx.out() << "flag " << flag.name() << " version " << flag.version() << "\n";
    if (flag.has_schedule_kept_since()) {
      ctx.out() << "changes before " << FormatTime(flag.schedule_kept_since())
                << " were compacted (--schedule-retention): older items are routed as of then\n";
    }
    t.Print(ctx.out());
    return kExitOk;
  }
  auto [now, next] = NowAndNext(flag);
  TablePrinter t({"NAME", "VERSION", "NOW", "NEXT", "SALT", "DESCRIPTION"});
  t.AddRow({flag.name(), absl::StrCat(flag.version()), now, next, flag.salt(), flag.description()});
  t.Print(ctx.out());
  return kExitOk;
}

}  // namespace sluice::cli
