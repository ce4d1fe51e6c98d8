// sluicectl pipelines list|get|create|update|delete|validate|pause|resume|status
#include <google/protobuf/util/time_util.h>

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/cli_context.h"
#include "cli/table_printer.h"
#include "common/column_flag.h"
#include "common/column_mapping.h"

namespace sluice::cli {
namespace {

using google::protobuf::util::TimeUtil;

const char* FormatName(v1::PayloadFormat f) {
  switch (f) {
    case v1::PAYLOAD_FORMAT_TEXT:
      return "text";
    case v1::PAYLOAD_FORMAT_BYTES:
      return "bytes";
    default:
      return "json";
  }
}

// Sets on `config` every field the user gave a flag for; INVALID_ARGUMENT-style
// message (flag named) on a bad value.
std::string ApplyFlags(const CliArgs& a, v1::PipelineConfig* config) {
  if (!a.topics.empty()) {
    config->clear_topics();
    for (absl::string_view t : absl::StrSplit(a.topics, ',', absl::SkipWhitespace())) {
      config->add_topics(std::string(t));
    }
  }
  if (!a.group.empty()) config->set_consumer_group(a.group);
  if (!a.table.empty()) config->mutable_target()->set_table(a.table);
  if (a.create_table) config->mutable_target()->set_create_table(true);
  if (!a.payload_format.empty()) {
    if (a.payload_format == "json") {
      config->set_payload_format(v1::PAYLOAD_FORMAT_JSON);
    } else if (a.payload_format == "text") {
      config->set_payload_format(v1::PAYLOAD_FORMAT_TEXT);
    } else if (a.payload_format == "bytes") {
      config->set_payload_format(v1::PAYLOAD_FORMAT_BYTES);
    } else {
      return absl::StrCat("--payload-format: '", a.payload_format, "' is not json, text or bytes");
    }
  }
  // Values are passed on as given; the controller validates them and names the field.
  if (a.Given("batch-max-rows")) {
    if (a.batch_max_rows < 0) return "--batch-max-rows: must be positive";
    config->mutable_batch()->set_max_rows(static_cast<uint32_t>(a.batch_max_rows));
  }
  if (a.Given("batch-max-bytes")) config->mutable_batch()->set_max_bytes(a.batch_max_bytes);
  if (a.Given("freshness-target")) {
    if (a.freshness_target == absl::ZeroDuration()) {
      config->mutable_batch()->clear_freshness_target();
    } else {
      *config->mutable_batch()->mutable_freshness_target() =
          TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(a.freshness_target));
    }
  }
  if (a.Given("consumer-timeout")) {
    *config->mutable_batch()->mutable_consumer_timeout() =
        TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(a.consumer_timeout));
  }
  if (a.Given("desired-workers")) {
    if (a.desired_workers < 0) return "--desired-workers: must be positive";
    config->set_desired_workers(static_cast<uint32_t>(a.desired_workers));
  }
  if (a.Given("writers")) {
    if (a.writers < 0) return "--writers: must be positive";
    config->set_writers(static_cast<uint32_t>(a.writers));
  }
  // --key-form belongs to the rollout too: alone it was silently dropped.
  if (!a.rollout_flag.empty() || !a.routing_key.empty() || !a.legacy.empty() ||
      !a.key_form.empty()) {
    v1::Rollout* r = config->mutable_rollout();
    if (!a.rollout_flag.empty()) r->set_flag(a.rollout_flag);
    if (a.routing_key == "kafka-key") {
      r->set_kafka_key(true);
    } else if (absl::StartsWith(a.routing_key, "json:")) {
      r->set_json_field(a.routing_key.substr(5));
    } else if (!a.routing_key.empty()) {
      return absl::StrCat("--routing-key: '", a.routing_key, "' is not kafka-key or json:FIELD");
    }
    if (!a.key_form.empty()) {
      v1::RoutingKeyForm form;
      if (!ParseKeyForm(a.key_form, &form)) {
        return absl::StrCat("--key-form: '", a.key_form, "' is not raw or minified");
      }
      r->set_key_form(form);
    }
    if (a.legacy == "skip") {
      r->set_skip(true);
    } else if (absl::StartsWith(a.legacy, "table:")) {
      r->set_legacy_table(a.legacy.substr(6));
    } else if (!a.legacy.empty()) {
      return absl::StrCat("--legacy: '", a.legacy, "' is not skip or table:NAME");
    }
  }
  for (const std::string& kv : a.kafka_properties) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::StrCat("--kafka-property: '", kv, "' is not key=value");
    }
    (*config->mutable_kafka_properties())[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (a.no_columns && !a.columns.empty()) return "--no-columns and --column conflict";
  if (a.no_columns) config->clear_columns();
  if (!a.columns.empty()) {
    config->clear_columns();
    for (const std::string& flag : a.columns) {
      if (std::string e = ParseColumnFlag(flag, config->add_columns()); !e.empty()) return e;
    }
  }
  if (!a.write_mode.empty()) {
    if (a.write_mode == "insert") {
      config->set_write_mode(v1::WRITE_MODE_INSERT);
      config->clear_key_columns();
      config->set_delete_on_tombstone(false);
    } else if (a.write_mode == "upsert") {
      config->set_write_mode(v1::WRITE_MODE_UPSERT);
    } else {
      return absl::StrCat("--write-mode: '", a.write_mode, "' is not insert or upsert");
    }
  }
  if (a.Given("key-columns")) {
    config->clear_key_columns();
    for (absl::string_view k : absl::StrSplit(a.key_columns, ',', absl::SkipWhitespace())) {
      config->add_key_columns(std::string(k));
    }
  }
  if (a.Given("delete-on-tombstone")) config->set_delete_on_tombstone(a.delete_on_tombstone);
  if (!a.bad_rows.empty()) {
    if (std::string e = ParseBadRowsFlag(a.bad_rows, config->mutable_bad_rows()); !e.empty()) {
      return e;
    }
  }
  for (const std::string& name : a.removed_kafka_properties) {
    if (config->mutable_kafka_properties()->erase(name) == 0) {
      return absl::StrCat("--remove-kafka-property: the pipeline has no property '", name, "'");
    }
  }
  return "";
}

void PrintPipelines(const CliContext& ctx, const std::vector<const v1::Pipeline*>& pipelines) {
  TablePrinter t({"NAME", "VERSION", "STATE", "TOPICS", "GROUP", "TABLE", "FORMAT", "ROWS",
                  "BYTES", "TIMEOUT", "WORKERS", "WRITERS"});
  for (const v1::Pipeline* p : pipelines) {
    const v1::PipelineConfig& c = p->config();
    t.AddRow({c.name(), absl::StrCat(p->version()), p->paused() ? "paused" : "running",
              absl::StrJoin(c.topics(), ","), c.consumer_group(), c.target().table(),
              FormatName(c.payload_format()), absl::StrCat(c.batch().max_rows()),
              FormatBytes(c.batch().max_bytes()), FormatDuration(c.batch().consumer_timeout()),
              absl::StrCat(c.desired_workers()), absl::StrCat(c.writers())});
  }
  t.Print(ctx.out());
}

int PrintPipeline(const CliContext& ctx, const v1::Pipeline& p) {
  if (ctx.args().json) {
    ctx.PrintJson(p);
    return kExitOk;
  }
  PrintPipelines(ctx, {&p});
  if (p.config().batch().has_freshness_target()) {
    ctx.out() << "\nfreshness target: " << FormatDuration(p.config().batch().freshness_target())
              << " p99 (the consumer timeout is tuned; TIMEOUT is where it starts)\n";
  }
  const v1::BadRowTolerance& t = p.config().bad_rows();
  if (t.mode() == v1::BadRowTolerance::MODE_NONE) {
    ctx.out() << "\nbad rows: none (the first pauses the pipeline)\n";
  } else if (t.mode() == v1::BadRowTolerance::MODE_RATE) {
    ctx.out() << "\nbad rows: pause above " << t.max_rate() * 100 << "% over "
              << (t.has_window() ? FormatDuration(t.window()) : std::string("5m")) << "\n";
  }
  if (p.config().write_mode() == v1::WRITE_MODE_UPSERT) {
    ctx.out() << "\nwrite mode: upsert on (" << absl::StrJoin(p.config().key_columns(), ", ") << ")"
              << (p.config().delete_on_tombstone() ? "; tombstones delete" : "") << "\n";
  }
  if (!p.config().columns().empty()) {
    ctx.out() << "\n";
    TablePrinter t({"COLUMN", "SOURCE", "TYPE"});
    for (const v1::ColumnMapping& c : p.config().columns()) {
      t.AddRow({c.column(), DescribeColumnSource(c), FormatColumnType(c)});
    }
    t.Print(ctx.out());
  }
  return kExitOk;
}

}  // namespace

int RunPipelines(const CliContext& ctx) {
  const std::vector<std::string>& pos = ctx.args().positional;
  if (pos.size() < 2) return ctx.Usage("pipelines needs a verb: list|get|create|update|delete|validate|pause|resume|status");
  const std::string& verb = pos[1];
  if (verb == "list") {
    v1::ListPipelinesResponse resp;
    grpc::Status s = ctx.Read(&v1::Admin::Stub::ListPipelines, {}, &resp);
    if (!s.ok()) return ctx.Refused(s);
    if (ctx.args().json) {
      ctx.PrintJson(resp);
      return kExitOk;
    }
    std::vector<const v1::Pipeline*> all;
    for (const v1::Pipeline& p : resp.pipelines()) all.push_back(&p);
    PrintPipelines(ctx, all);
    return kExitOk;
  }
  if (pos.size() != 3) return ctx.Usage(absl::StrCat("pipelines ", verb, " takes one NAME"));
  const std::string& name = pos[2];
  v1::Pipeline resp;
  grpc::Status s;
  if (verb == "get") {
    v1::GetPipelineRequest req;
    req.set_name(name);
    s = ctx.Read(&v1::Admin::Stub::GetPipeline, req, &resp);
  } else if (verb == "create") {
    v1::CreatePipelineRequest req;
    req.mutable_config()->set_name(name);
    if (std::string e = ApplyFlags(ctx.args(), req.mutable_config()); !e.empty()) {
      return ctx.Usage(e);
    }
    s = ctx.Write(&v1::Admin::Stub::CreatePipeline, req, &resp);
  } else if (verb == "update") {
    if (ctx.args().expected_version <= 0) {
      return ctx.Usage("pipelines update needs --expected-version (from pipelines get)");
    }
    v1::GetPipelineRequest get;
    get.set_name(name);
    v1::Pipeline current;
    s = ctx.Read(&v1::Admin::Stub::GetPipeline, get, &current);
    if (!s.ok()) return ctx.Refused(s);
    v1::UpdatePipelineRequest req;
    *req.mutable_config() = current.config();
    if (std::string e = ApplyFlags(ctx.args(), req.mutable_config()); !e.empty()) {
      return ctx.Usage(e);
    }
    req.set_expected_version(static_cast<uint64_t>(ctx.args().expected_version));
    s = ctx.Write(&v1::Admin::Stub::UpdatePipeline, req, &resp);
  } else if (verb == "delete") {
    if (ctx.args().expected_version <= 0) {
      return ctx.Usage("pipelines delete needs --expected-version (from pipelines get)");
    }
    v1::DeletePipelineRequest req;
    req.set_name(name);
    req.set_expected_version(static_cast<uint64_t>(ctx.args().expected_version));
    v1::DeletePipelineResponse deleted;
    s = ctx.Write(&v1::Admin::Stub::DeletePipeline, req, &deleted);
    if (!s.ok()) return ctx.Refused(s);
    ctx.out() << "deleted pipeline " << name << "\n";
    return kExitOk;
  } else if (verb == "validate") {
    v1::ValidatePipelineRequest req;
    v1::GetPipelineRequest get;
    get.set_name(name);
    v1::Pipeline current;
    if (ctx.Read(&v1::Admin::Stub::GetPipeline, get, &current).ok()) {
      *req.mutable_config() = current.config();
    }
    req.mutable_config()->set_name(name);
    if (std::string e = ApplyFlags(ctx.args(), req.mutable_config()); !e.empty()) {
      return ctx.Usage(e);
    }
    v1::ValidatePipelineResponse v;
    s = ctx.Read(&v1::Admin::Stub::ValidatePipeline, req, &v);
    if (!s.ok()) return ctx.Refused(s);
    if (ctx.args().json) {
      ctx.PrintJson(v);
    } else if (v.valid()) {
      ctx.out() << "valid: would " << (v.exists() ? "update" : "create") << " pipeline " << name
                << (v.exists() ? absl::StrCat(" (now at version ", v.current_version(), ")") : "")
                << "\n";
      if (!v.table_error().empty()) {
        ctx.out() << "but workers would refuse it (NACK) until the table is fixed: "
                  << v.table_error() << "\n";
      }
    } else {
      ctx.out() << "invalid: " << v.error() << "\n";
    }
    return v.valid() && v.table_error().empty() ? kExitOk : kExitRefused;
  } else if (verb == "pause" || verb == "resume") {
    if (verb == "pause") {
      v1::PausePipelineRequest req;
      req.set_name(name);
      s = ctx.Write(&v1::Admin::Stub::PausePipeline, req, &resp);
    } else {
      v1::ResumePipelineRequest req;
      req.set_name(name);
      s = ctx.Write(&v1::Admin::Stub::ResumePipeline, req, &resp);
    }
  } else if (verb == "status") {
    v1::GetPipelineStatusRequest req;
    req.set_name(name);
    v1::PipelineStatus status;
    s = ctx.Read(&v1::Admin::Stub::GetPipelineStatus, req, &status);
    if (!s.ok()) return ctx.Refused(s);
    if (ctx.args().json) {
      ctx.PrintJson(status);
      return kExitOk;
    }
    PrintPipelines(ctx, {&status.pipeline()});
    ctx.out() << "\n";
    TablePrinter t({"WORKER", "CONNECTED", "APPLIED", "TIMEOUT", "STATE", "ERROR"});
    for (const v1::PipelineWorkerStatus& w : status.workers()) {
      std::string state = "pending";
      std::string error = w.nack_error();
      if (!w.nack_error().empty()) {
        state = "NACK";
      } else if (!w.problem().empty()) {
        state = "FAILING";
        error = w.problem();
      } else if (w.applied_version() == status.pipeline().version()) {
        state = "applied";
      }
      // The consumer timeout in use (tuned under a freshness target).
      t.AddRow({w.worker_id(), w.connected() ? "yes" : "no",
                w.applied_version() ? absl::StrCat(w.applied_version()) : "-",
                w.consumer_timeout_ms() > 0
                    ? absl::FormatDuration(absl::Milliseconds(std::round(w.consumer_timeout_ms())))
                    : "-",
                state, error});
    }
    if (!status.not_assigned_reason().empty()) {
      ctx.out() << status.not_assigned_reason() << "\n";
    } else if (status.workers().empty()) {
      ctx.out() << "no worker is assigned"
                << (status.pipeline().paused() ? " (paused)" : " (no worker connected)") << "\n";
    } else {
      t.Print(ctx.out());
    }
    return kExitOk;
  } else {
    return ctx.Usage(absl::StrCat("unknown verb pipelines ", verb));
  }
  if (!s.ok()) return ctx.Refused(s);
  return PrintPipeline(ctx, resp);
}

}  // namespace sluice::cli
