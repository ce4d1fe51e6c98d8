#include "cli/cli_context.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/grpc_limits.h"
#include "common/proto_time.h"

namespace sluice::cli {

using google::protobuf::util::TimeUtil;

CliContext::CliContext(const CliArgs& args, ControllerConnection controller,
                       ControllerAddresses addresses,
                       std::map<std::string, std::shared_ptr<grpc::Channel>> channels,
                       std::ostream& out, std::ostream& err)
    : args_(args),
      out_(out),
      err_(err),
      controller_(std::move(controller)),
      addresses_(std::move(addresses)),
      channels_(std::move(channels)) {
  for (const auto& [address, channel] : channels_) stubs_[address] = v1::Admin::NewStub(channel);
}

namespace {

// Whether `channel` connects by `deadline`; false as soon as an attempt fails (a
// replica that is down refuses at once, and the next one is tried).
bool Connects(grpc::Channel& channel, std::chrono::system_clock::time_point deadline) {
  for (;;) {
    const grpc_connectivity_state state = channel.GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_READY) return true;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) return false;
    if (!channel.WaitForStateChange(state, deadline)) return false;
  }
}

}  // namespace

grpc::Status CliContext::CallLeader(
    const std::function<grpc::Status(v1::Admin::Stub&, grpc::ClientContext*)>& call,
    bool idempotent) const {
  const absl::Time give_up = absl::Now() + kFailoverBudget;
  size_t failed_in_a_row = 0;
  for (;;) {
    const std::string address = addresses_.current();
    const bool several = addresses_.all().size() > 1;
    if (stubs_.count(address) == 0) {  // a leader a follower named
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
          OpenControllerChannelTo(controller_, address);
      if (!channel.ok())
        return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            absl::StrCat("the leader is ", address, ", and it cannot be called: ",
                                         channel.status().message()));
      channels_[address] = *channel;
      stubs_[address] = v1::Admin::NewStub(*channel);
    }
    grpc::Status status;
    std::optional<std::string> follower;
    // With several replicas, one that does not connect soon is skipped (nothing
    // was sent to it); alone, the call reports it at once, as it always did.
    const auto connect_by = std::chrono::system_clock::now() + std::chrono::seconds(2);
    if (several && !Connects(*channels_.at(address), connect_by)) {
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            absl::StrCat("controller ", address, " cannot be reached"));
    } else {
      std::unique_ptr<grpc::ClientContext> ctx = Call();
      status = call(*stubs_.at(address), ctx.get());
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
      follower = FollowerRefusalLeader(*ctx);
      // Sent, then the replica went away: a write may have been made.
      if (!follower && (!idempotent || !several)) return status;
    }
    const std::string leader = FollowableLeader(controller_, follower);
    // A leader this client may not call with its settings (a token in clear
    // text beyond loopback): its address is in the message.
    if (follower && !follower->empty() && leader.empty()) return status;
    if (absl::Now() >= give_up) return status;
    addresses_.Failover(leader);
    // Once every replica has been tried, wait a little (an election under way).
    if (++failed_in_a_row % addresses_.all().size() == 0 || (follower && follower->empty())) {
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
}

std::unique_ptr<grpc::ClientContext> CliContext::Call() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  AddControllerToken(controller_, ctx.get());
  return ctx;
}

int CliContext::Refused(const grpc::Status& status) const {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const int code = static_cast<int>(status.error_code());
  err_ << ErrorLine(args_.json, code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN",
                    status.error_message(), /*usage=*/false);
  return kExitRefused;
}

int CliContext::Usage(const std::string& message) const {
  err_ << ErrorLine(args_.json, "INVALID_ARGUMENT", message, /*usage=*/true);
  return kExitUsage;
}

namespace {

// The body of a JSON string: quotes, backslashes and control bytes escaped.
std::string JsonEscape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string ErrorLine(bool json, const std::string& code, const std::string& message,
                      bool usage) {
  if (!json) {
    return usage ? absl::StrCat("sluicectl: ", message, " (see sluicectl --help)\n")
                 : absl::StrCat("sluicectl: ", code, ": ", message, "\n");
  }
  // Written by hand so that "code" comes first, as documented.
  return absl::StrCat("{\"code\":\"", code, "\",\"message\":\"", JsonEscape(message), "\"}\n");
}

std::string ParseTimeFlag(const std::string& flag, const std::string& text,
                          google::protobuf::Timestamp* out) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
    return absl::StrCat(flag, ": '", text, "' is not an RFC 3339 time (", error, ")");
  }
  if (!FitsProtoTimestamp(t)) {
    return absl::StrCat(flag, ": '", text,
                        "' is out of range (years 0001 to 9999; the controller takes at most "
                        "10 years ahead)");
  }
  *out = ToProtoTimestamp(t);
  return "";
}

void CliContext::PrintJson(const google::protobuf::Message& message) const {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out_ << json;
  if (json.empty() || json.back() != '\n') out_ << "\n";
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string FormatDuration(const google::protobuf::Duration& d) {
  return absl::FormatDuration(absl::Milliseconds(TimeUtil::DurationToMilliseconds(d)));
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes >= (1u << 30) && bytes % (1u << 30) == 0) return absl::StrCat(bytes >> 30, "GiB");
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return absl::StrCat(bytes >> 20, "MiB");
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return absl::StrCat(bytes >> 10, "KiB");
  return absl::StrCat(bytes, "B");
}

bool ParseKeyForm(const std::string& text, v1::RoutingKeyForm* form) {
  if (text == "raw") {
    *form = v1::ROUTING_KEY_FORM_RAW_JSON;
  } else if (text == "minified") {
    *form = v1::ROUTING_KEY_FORM_MINIFIED;
  } else {
    return false;
  }
  return true;
}

}  // namespace sluice::cli
