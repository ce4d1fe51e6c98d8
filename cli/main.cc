// sluicectl: the admin CLI of Sluice; talks to sluice-controller over gRPC.
//
//   sluicectl [--controller HOST:PORT] [--json] NOUN VERB [OPERANDS] [FLAGS]
//
// Exit codes: 0 ok, 1 the server refused (its message printed), 2 usage error.
#include <cstdlib>
#include <iostream>
#include <limits>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/cli_context.h"
#include "common/arg_parser.h"
#include "common/proto_time.h"

namespace {

using sluice::ArgParser;
using sluice::cli::CliArgs;

constexpr char kUsage[] =
    R"(usage: sluicectl [--controller HOST:PORT] [--json] NOUN VERB [OPERANDS] [FLAGS]

  pipelines list
  pipelines get|pause|resume|status NAME
  pipelines create NAME --topics T1[,T2] [--group G] [--table T] [--create-table]
                        [--payload-format json|text|bytes] [--batch-max-rows N]
                        [--batch-max-bytes SIZE] [--consumer-timeout SECONDS]
                        [--freshness-target SECONDS (0: a fixed consumer timeout)]
                        [--desired-workers N] [--writers N] [--kafka-property k=v ...]
                        [--column NAME=SOURCE[:TYPE] ...] [--write-mode insert|upsert
                        --key-columns A[,B] [--delete-on-tombstone]]
                        [--bad-rows all|none|rate:R[/WINDOW]]
  pipelines update NAME --expected-version V [any create flag]
                        [--remove-kafka-property NAME ...] [--no-columns]
  pipelines delete NAME --expected-version V
  pipelines validate NAME [any create flag]        (dry run)
  workers list | workers get|drain WORKER_ID
  stats [--by worker|pipeline|version|path] [--window 5m]
  top                          live view of workers and pipelines (q quits)
  offsets get PIPELINE
  offsets reset PIPELINE --topic T [--partition P] (--to N | --to-earliest | --to-latest)   (paused only)
  audit list [--limit N] [--target NAME]
  deadletters list PIPELINE [--from-id N] [--to-id N] [--sqlstate S]
                   [--state pending|replayed|discarded|all] [--limit N]
  deadletters show PIPELINE ID                  (key and payload)
  deadletters replay|discard PIPELINE (--from-id N | --to-id N | --sqlstate S | --all)
                                                (replay: again through the current mapping)
  flags list | flags get|history NAME
  flags create NAME [--description D] [--salt S]
  flags set NAME --percent 12.5 [--at RFC3339 | --in 30s] --expected-version V
  flags rollback NAME --expected-version V      (back one change; repeated, further back)
  flags kill NAME                               (0% at now + lead, halts any ramp; no version)
  flags eval NAME KEY [--at RFC3339]
  flags eval NAME --payload JSON --routing-key json:FIELD [--key-form raw|minified] [--at ...]
  flags ramp NAME --to 100 --step 10 --every 5m --expected-version V
             [--max-dead-letter-rate 0.01] [--max-error-rate 0.1] [--max-freshness-p99 30s]
             [--guard-window 5m] [--rollback-on-breach] [--min-items 1000] [--min-batches 10]
  flags status NAME                             (the ramp, its guards, why it halted or waits)
  flags holders NAME                            (which workers and watchers hold which version)
  flags flagd-config                            (every flag as OpenFeature flagd JSON, as served
                                                 on --flagd-sync-address; docs/OPENFEATURE.md)

Rollouts: pipelines create|update take --rollout-flag F --routing-key kafka-key|json:FIELD
--legacy skip|table:NAME.

Columns: --column NAME=SOURCE[:TYPE] maps one column of the table; given at all, the
columns given are the whole mapping (update replaces it). SOURCE is topic, partition,
offset, key, timestamp, payload, header:NAME or a JSON Pointer (/body/project_id);
TYPE is text, integer, bigint, numeric, boolean, jsonb, uuid, bytea or timestamptz
(timestamptz(epoch_s|epoch_ms|rfc3339) when not read from the Kafka timestamp).
--write-mode upsert keeps one row per --key-columns value (a unique index on them
must exist); --delete-on-tombstone deletes a key's row on a null payload.
--bad-rows all (dead-letter and go on), none (pause at the first bad row) or
rate:0.01[/5m] (pause when dead letters pass 1% of the items over 5 minutes).

--controller defaults to $SLUICE_CONTROLLER, else localhost:7400. The token comes from
--token-file, else $SLUICE_TOKEN; --tls-ca (or $SLUICE_TLS_CA) connects with TLS.
Percentages (--percent, --to, --step) are 0 to 100 with at most 2 decimals (a step
at least 0.01 and at most --to); --at and --in reach at most 10 years ahead.
Exit codes: 0 ok, 1 the server refused (its message is printed), 2 usage error.
Errors go to stderr as one line; with --json as {"code":"INVALID_ARGUMENT","message":"..."}.
)";

// The ranges of the proto fields integer flags fill (a bigger value would wrap).
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kUint32Max = std::numeric_limits<uint32_t>::max();

// A duration flag whose value must fit a google.protobuf.Duration (converting a
// longer one makes protobuf throw).
void AddDuration(ArgParser& p, const std::string& name, absl::Duration* out,
                 const std::string& help) {
  p.AddCustom(name, [out](absl::string_view v) {
    absl::Duration d;
    if (absl::Status s = sluice::ParseSeconds(v, &d); !s.ok()) return s;
    if (!sluice::FitsProtoDuration(d)) {
      return absl::InvalidArgumentError(absl::StrCat("'", v, "' is too long (at most 10000 years)"));
    }
    *out = d;
    return absl::OkStatus();
  }, help);
}

// Registers the flags of `noun` ("" = every noun's, to find the operands).
void AddFlags(ArgParser& p, CliArgs* a, const std::string& noun) {
  p.AllowPositional();
  p.AddString("controller", &a->controller,
              "controller address, or the replicas' addresses separated by commas (each "
              "command goes to the leader among them); default $SLUICE_CONTROLLER or "
              "localhost:7400");
  p.AddString("token-file", &a->token_file, "file holding the controller token");
  p.AddString("tls-ca", &a->tls_ca, "PEM CA of the controller's certificate");
  p.AddBool("allow-plaintext-token", &a->allow_plaintext_token,
            "send the token without TLS to a controller beyond this machine");
  p.AddBool("json", &a->json, "print JSON");
  const bool all = noun.empty();
  if (all || noun == "pipelines") {
    p.AddString("topics", &a->topics, "");
    p.AddString("group", &a->group, "");
    p.AddString("table", &a->table, "");
    p.AddBool("create-table", &a->create_table, "");
    p.AddString("payload-format", &a->payload_format, "");
    p.AddInt("batch-max-rows", &a->batch_max_rows, 0, kUint32Max, "");
    p.AddBytes("batch-max-bytes", &a->batch_max_bytes, "");
    AddDuration(p, "consumer-timeout", &a->consumer_timeout, "");
    AddDuration(p, "freshness-target", &a->freshness_target, "");
    p.AddInt("desired-workers", &a->desired_workers, 0, kUint32Max, "");
    p.AddInt("writers", &a->writers, 0, kUint32Max, "");
    p.AddRepeated("kafka-property", &a->kafka_properties, "");
    p.AddRepeated("remove-kafka-property", &a->removed_kafka_properties, "");
    p.AddRepeated("column", &a->columns, "");
    p.AddBool("no-columns", &a->no_columns, "");
    p.AddString("write-mode", &a->write_mode, "");
    p.AddString("bad-rows", &a->bad_rows, "");
    p.AddString("key-columns", &a->key_columns, "");
    p.AddBool("delete-on-tombstone", &a->delete_on_tombstone, "");
    p.AddInt("expected-version", &a->expected_version, "");
    p.AddString("rollout-flag", &a->rollout_flag, "");
    p.AddString("routing-key", &a->routing_key, "");
    p.AddString("legacy", &a->legacy, "");
    p.AddString("key-form", &a->key_form, "");
  }
  if (all || noun == "flags") {
    p.AddString("description", &a->description, "");
    p.AddString("salt", &a->salt, "");
    p.AddString("percent", &a->percent, "");
    p.AddString("at", &a->at, "");
    AddDuration(p, "in", &a->in, "");
    p.AddString("to", &a->ramp_to, "");
    p.AddString("step", &a->step, "");
    AddDuration(p, "every", &a->every, "");
    p.AddCustom("max-dead-letter-rate", [a](absl::string_view v) {
      return absl::SimpleAtod(v, &a->max_dead_letter_rate)
                 ? absl::OkStatus()
                 : absl::InvalidArgumentError(absl::StrCat("'", v, "' is not a number"));
    }, "");
    p.AddCustom("max-error-rate", [a](absl::string_view v) {
      return absl::SimpleAtod(v, &a->max_error_rate)
                 ? absl::OkStatus()
                 : absl::InvalidArgumentError(absl::StrCat("'", v, "' is not a number"));
    }, "");
    AddDuration(p, "max-freshness-p99", &a->max_freshness_p99, "");
    AddDuration(p, "guard-window", &a->guard_window, "");
    p.AddBool("rollback-on-breach", &a->rollback_on_breach, "");
    p.AddInt("min-items", &a->min_items, 1, int64_t{1} << 53, "");
    p.AddInt("min-batches", &a->min_batches, 1, int64_t{1} << 53, "");
    p.AddString("payload", &a->payload, "");
    if (!all) {
      p.AddInt("expected-version", &a->expected_version, "");
      p.AddString("routing-key", &a->routing_key, "");
      p.AddString("key-form", &a->key_form, "");
    }
  }
  if (all || noun == "stats") {
    p.AddString("by", &a->by, "");
    AddDuration(p, "window", &a->window, "");
  }
  if (all || noun == "offsets") {
    p.AddString("topic", &a->topic, "");
    p.AddInt("partition", &a->partition, -1, kInt32Max, "");
    p.AddInt("to", &a->to, "");
    p.AddBool("to-earliest", &a->to_earliest, "");
    p.AddBool("to-latest", &a->to_latest, "");
  }
  if (all || noun == "deadletters") {
    p.AddInt("from-id", &a->from_id, 0, kInt64Max, "");
    p.AddInt("to-id", &a->to_id, 0, kInt64Max, "");
    p.AddString("sqlstate", &a->sqlstate, "");
    p.AddString("state", &a->state, "");
    p.AddBool("all", &a->all, "");
  }
  if (all || noun == "audit" || noun == "deadletters") {
    p.AddInt("limit", &a->limit, 0, kInt32Max, "");
    p.AddString("target", &a->target, "");
  }
}

// Set before the flags are parsed: a usage error can come before --json is read.
bool json_errors = false;

int Usage(const std::string& message) {
  std::cerr << sluice::cli::ErrorLine(json_errors, "INVALID_ARGUMENT", message, /*usage=*/true);
  return sluice::cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json" || arg == "--json=true" || arg == "--json=1" || arg == "--json=yes") {
      json_errors = true;
    }
  }
  // Pass 1 finds the noun; pass 2 accepts only that noun's flags.
  CliArgs probe;
  ArgParser first("sluicectl");
  AddFlags(first, &probe, "");
  absl::Status parsed = first.Parse(argc, argv);
  if (first.help_requested()) {
    std::cout << kUsage;
    return 0;
  }
  if (!parsed.ok()) return Usage(std::string(parsed.message()));
  if (first.positional().empty())
    return Usage(
        "missing NOUN (pipelines, workers, stats, top, offsets, audit, flags, deadletters)");
  const std::string noun = first.positional()[0];
  static const std::set<std::string> kNouns = {"pipelines", "workers",     "stats", "offsets",
                                               "audit",     "deadletters", "flags", "top"};
  if (kNouns.count(noun) == 0) return Usage(absl::StrCat("unknown noun '", noun, "'"));

  CliArgs args;
  ArgParser second("sluicectl");
  AddFlags(second, &args, noun);
  parsed = second.Parse(argc, argv);
  if (!parsed.ok()) {
    return Usage(absl::StrCat(parsed.message(), " (not a flag of '", noun, "')"));
  }
  args.positional = second.positional();
  // Every flag a verb asks Given() about (where an empty or zero value can be meant).
  for (const char* flag : {"batch-max-rows", "batch-max-bytes", "consumer-timeout",
                           "freshness-target", "desired-workers", "writers", "in", "payload",
                           "guard-window", "key-columns", "delete-on-tombstone", "limit"}) {
    if (second.WasSet(flag)) args.given.insert(flag);
  }
  if (args.controller.empty()) {
    const char* env = std::getenv("SLUICE_CONTROLLER");
    args.controller = env != nullptr && *env != '\0' ? env : "localhost:7400";
  }
  if (args.tls_ca.empty()) {
    const char* env = std::getenv("SLUICE_TLS_CA");
    if (env != nullptr) args.tls_ca = env;
  }
  sluice::ControllerConnection controller{args.controller, "", args.tls_ca};
  controller.allow_plaintext_token = args.allow_plaintext_token;
  absl::StatusOr<std::string> token =
      sluice::ReadClientToken(args.token_file, "--token-file", sluice::SluiceTokenFromEnvironment());
  if (!token.ok()) return Usage(std::string(token.status().message()));
  controller.token = *token;
  if (absl::Status checked = sluice::CheckControllerConnection(controller); !checked.ok()) {
    return Usage(std::string(checked.message()));
  }
  absl::StatusOr<sluice::ControllerAddresses> addresses =
      sluice::ControllerAddresses::Parse(controller.address);
  if (!addresses.ok()) return Usage(std::string(addresses.status().message()));
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels;
  for (const std::string& address : addresses->all()) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        sluice::OpenControllerChannelTo(controller, address);
    if (!channel.ok()) return Usage(std::string(channel.status().message()));
    channels[address] = std::move(*channel);
  }
  sluice::cli::CliContext ctx(args, controller, std::move(*addresses), std::move(channels),
                              std::cout, std::cerr);
  if (noun == "pipelines") return sluice::cli::RunPipelines(ctx);
  if (noun == "workers") return sluice::cli::RunWorkers(ctx);
  if (noun == "stats") return sluice::cli::RunStats(ctx);
  if (noun == "top") return sluice::cli::RunTop(ctx);
  if (noun == "offsets") return sluice::cli::RunOffsets(ctx);
  if (noun == "deadletters") return sluice::cli::RunDeadLetters(ctx);
  if (noun == "flags") return sluice::cli::RunFlags(ctx);
  return sluice::cli::RunAudit(ctx);
}
