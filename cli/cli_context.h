// What every sluicectl command gets: the parsed arguments and a way to call the
// controller and print results.
#ifndef SLUICE_CLI_CLI_CONTEXT_H_
#define SLUICE_CLI_CLI_CONTEXT_H_

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/controller_addresses.h"
#include "common/controller_channel.h"
#include "sluice/v1/admin.grpc.pb.h"

namespace sluice::cli {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;

// Every flag any command takes; each command reads the ones it declared.
struct CliArgs {
  std::string controller;
  // The token comes from --token-file, else SLUICE_TOKEN (never argv).
  std::string token_file;
  std::string tls_ca;
  bool allow_plaintext_token = false;
  bool json = false;
  std::vector<std::string> positional;  // noun, verb, operands
  // Flags given on the command line (a value of 0 can be meant).
  std::set<std::string> given;
  bool Given(const std::string& flag) const { return given.count(flag) > 0; }
  // pipelines create/update/validate
  std::string topics, group, table, payload_format;
  bool create_table = false;
  int64_t batch_max_rows = 0, batch_max_bytes = 0, desired_workers = 0, writers = 0, expected_version = 0;
  absl::Duration consumer_timeout = absl::ZeroDuration();
  absl::Duration freshness_target = absl::ZeroDuration();
  std::vector<std::string> kafka_properties;
  // Names taken out of the config (e.g. one a stored pipeline may no longer set).
  std::vector<std::string> removed_kafka_properties;
  // --column NAME=SOURCE[:TYPE], repeated: the whole column mapping; --no-columns
  // goes back to Sluice's own shape.
  std::vector<std::string> columns;
  bool no_columns = false;
  // --write-mode insert|upsert, --key-columns A,B, --delete-on-tombstone[=false]
  std::string write_mode, key_columns;
  // --bad-rows all|none|rate:R[/WINDOW]
  std::string bad_rows;
  bool delete_on_tombstone = false;
  // stats
  std::string by = "pipeline";
  absl::Duration window = absl::Minutes(5);
  // offsets reset
  std::string topic;
  int64_t partition = -1, to = -1;
  bool to_earliest = false;
  bool to_latest = false;
  // deadletters
  int64_t from_id = 0, to_id = 0;
  std::string sqlstate, state;
  bool all = false;
  // audit
  int64_t limit = 20;
  std::string target;
  // flags
  std::string description, salt, percent, at, ramp_to, step;
  absl::Duration every = absl::ZeroDuration(), guard_window = absl::ZeroDuration(),
                 max_freshness_p99 = absl::ZeroDuration();
  double max_dead_letter_rate = 0, max_error_rate = 0;
  bool rollback_on_breach = false;
  // 0: the controller's defaults (RampGuards.min_items, min_batches)
  int64_t min_items = 0, min_batches = 0;
  absl::Duration in = absl::ZeroDuration();
  // pipelines create/update: rollout
  std::string rollout_flag, routing_key, legacy;
  // pipelines create/update and flags eval: "raw" or "minified" (see RoutingKeyForm)
  std::string key_form;
  // flags eval: an item's JSON payload to read the key from (with --routing-key json:F)
  std::string payload;
};

// "raw" → ROUTING_KEY_FORM_RAW_JSON, "minified" → ROUTING_KEY_FORM_MINIFIED; false
// for anything else.
bool ParseKeyForm(const std::string& text, v1::RoutingKeyForm* form);

// A type deduced from another argument only (std::type_identity before C++20),
// so that `{}` can stand for a request.
template <typename T>
struct NotDeduced {
  using type = T;
};

class CliContext {
 public:
  // An Admin call of the generated stub.
  template <typename Req, typename Resp>
  using AdminMethod = grpc::Status (v1::Admin::Stub::*)(grpc::ClientContext*, const Req&, Resp*);
  // How long a command keeps looking for the leader (an election takes seconds).
  static constexpr absl::Duration kFailoverBudget = absl::Seconds(15);

  // `controller`: token and TLS; `addresses`: the replicas (--controller a,b),
  // with a channel opened to each.
  CliContext(const CliArgs& args, ControllerConnection controller, ControllerAddresses addresses,
             std::map<std::string, std::shared_ptr<grpc::Channel>> channels, std::ostream& out,
             std::ostream& err);

  const CliArgs& args() const { return args_; }
  std::ostream& out() const { return out_; }

  // Calls the leader. A follower's refusal (the call did nothing) is followed to
  // the leader it names, or to the next replica, and a replica that cannot be
  // reached is skipped, for up to kFailoverBudget. A read is also sent again when
  // a replica went away during the call; a write is not (it may have been made):
  // its UNAVAILABLE is returned for the operator to check.
  template <typename Req, typename Resp>
  grpc::Status Read(AdminMethod<Req, Resp> method, const typename NotDeduced<Req>::type& req,
                    Resp* resp) const {
    return CallLeader(
        [&](v1::Admin::Stub& stub, grpc::ClientContext* c) { return (stub.*method)(c, req, resp); },
        /*idempotent=*/true);
  }
  template <typename Req, typename Resp>
  grpc::Status Write(AdminMethod<Req, Resp> method, const typename NotDeduced<Req>::type& req,
                     Resp* resp) const {
    return CallLeader(
        [&](v1::Admin::Stub& stub, grpc::ClientContext* c) { return (stub.*method)(c, req, resp); },
        /*idempotent=*/false);
  }

  // A context for one call: 10 s deadline and the token. (The controller records
  // the token's name as the actor; the client does not choose it.)
  std::unique_ptr<grpc::ClientContext> Call() const;
  // Prints "sluicectl: CODE: message" and returns kExitRefused.
  int Refused(const grpc::Status& status) const;
  // "sluicectl: message" and kExitUsage.
  int Usage(const std::string& message) const;
  // Prints `message` as JSON (for --json).
  void PrintJson(const google::protobuf::Message& message) const;

 private:
  const CliArgs& args_;
  std::ostream& out_;
  std::ostream& err_;
  grpc::Status CallLeader(
      const std::function<grpc::Status(v1::Admin::Stub&, grpc::ClientContext*)>& call,
      bool idempotent) const;

  const ControllerConnection controller_;
  // Moves as calls fail over; a command runs on one thread.
  mutable ControllerAddresses addresses_;
  // By address; a leader named by a follower is added.
  mutable std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  mutable std::map<std::string, std::unique_ptr<v1::Admin::Stub>> stubs_;
};

// Commands, one per noun. `verb` and operands come from args().positional.
int RunPipelines(const CliContext& ctx);
int RunWorkers(const CliContext& ctx);
int RunStats(const CliContext& ctx);
int RunTop(const CliContext& ctx);
int RunOffsets(const CliContext& ctx);
int RunDeadLetters(const CliContext& ctx);
int RunAudit(const CliContext& ctx);
int RunFlags(const CliContext& ctx);

// "12.5" → 1250 basis points: 0..100 with at most 2 decimals. A non-empty result
// is the error, naming `flag`.
std::string ParsePercent(const std::string& text, uint32_t* basis_points,
                         const std::string& flag = "--percent");

// An RFC 3339 time a google.protobuf.Timestamp can hold (years 1..9999). A
// non-empty result is the error, naming `flag`.
std::string ParseTimeFlag(const std::string& flag, const std::string& text,
                          google::protobuf::Timestamp* out);

// The one line sluicectl prints for an error, newline included:
// "sluicectl: CODE: message", or for a usage error (code INVALID_ARGUMENT, exit 2)
// "sluicectl: message (see sluicectl --help)"; with --json, either is the object
// {"code":"CODE","message":"message"}. Printed on stderr, so stdout holds results only.
std::string ErrorLine(bool json, const std::string& code, const std::string& message,
                      bool usage);

// Formatting helpers shared by the commands.
std::string FormatTime(const google::protobuf::Timestamp& t);
std::string FormatDuration(const google::protobuf::Duration& d);
std::string FormatBytes(uint64_t bytes);

}  // namespace sluice::cli

#endif  // SLUICE_CLI_CLI_CONTEXT_H_
