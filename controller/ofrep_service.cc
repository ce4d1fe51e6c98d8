#include "controller/ofrep_service.h"

#include <optional>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/identifiers.h"
#include "common/json_string.h"
#include "common/proto_time.h"
#include "controller/ofrep_context.h"
#include "flags/bucketing.h"
#include "flags/flag_schedule.h"

namespace sluice::controller {
namespace {

using Response = HttpServer::Response;

Response Error(int code, absl::string_view key, absl::string_view error_code,
               absl::string_view details) {
  std::string body = "{";
  if (!key.empty()) absl::StrAppend(&body, R"("key":)", JsonString(key), ",");
  if (!error_code.empty()) absl::StrAppend(&body, R"("errorCode":)", JsonString(error_code), ",");
  absl::StrAppend(&body, R"("errorDetails":)", JsonString(details), "}");
  return {code, "application/json", std::move(body), {}};
}

// One flag's success object.
std::string Evaluated(const v1::Flag& flag, const OfrepSubject& s) {
  const flags::Evaluation e = flags::FlagSchedule(flag).Evaluate(s.key, s.at);
  const char* variant = e.in_rollout ? "\"kafka\"" : "\"legacy\"";
  const bool split = e.basis_points > 0 && e.basis_points < flags::kFullRollout;
  return absl::StrCat(
      R"({"key":)", JsonString(flag.name()), R"(,"value":)", variant, R"(,"variant":)", variant,
      R"(,"reason":")", split ? "SPLIT" : "TARGETING_MATCH", R"(","metadata":{"bucket":)", e.bucket,
      R"(,"basisPoints":)", e.basis_points, R"(,"sluiceVersion":)", flag.version(), "}}");
}

}  // namespace

std::optional<Response> OfrepService::Admit(const HttpServer::Request& req) const {
  if (req.method != "POST") {
    Response r = Error(405, "", "", "OFREP evaluations are POST requests");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  // A token sent from another machine over this plaintext port crossed the network
  // in clear text.
  if (req.authorization && !IsLoopbackPeer(req.peer) && !options_.allow_plaintext_tokens) {
    return Error(403, "", "",
                 "a token over plaintext HTTP from another machine is refused: put TLS in front "
                 "and start the controller with --allow-plaintext-tokens (docs/OPENFEATURE.md)");
  }
  absl::StatusOr<Caller> caller =
      auth_.Authorize(CallCredentials{req.authorization, req.peer}, Role::kRead);
  if (!caller.ok()) {
    return Error(caller.status().code() == absl::StatusCode::kPermissionDenied ? 403 : 401, "", "",
                 caller.status().message());
  }
  return std::nullopt;
}

Response OfrepService::Handle(const HttpServer::Request& req) const {
  if (std::optional<Response> refused = Admit(req)) return *refused;
  return Evaluate(req);
}

HttpServer::Endpoint OfrepService::Endpoint(std::function<void(int)> answered) const {
  return {[this](const HttpServer::Request& req) { return Admit(req); },
          [this](const HttpServer::Request& req) { return Evaluate(req); }, std::move(answered)};
}

Response OfrepService::Evaluate(const HttpServer::Request& req) const {
  if (fresh_) {
    if (absl::Status fresh = fresh_(); !fresh.ok()) {
      return Error(503, "", "GENERAL",
                   absl::StrCat("this controller's flags may be stale: ", fresh.message()));
    }
  }
  std::string key;  // empty: bulk
  if (req.path != kPath) {
    if (!absl::StartsWith(req.path, absl::StrCat(kPath, "/"))) {
      return Error(404, "", "GENERAL", "no such OFREP endpoint");
    }
    key = req.path.substr(sizeof(kPath));
    if (key.empty()) return Error(404, "", "FLAG_NOT_FOUND", "no flag key in the path");
    // Flag names are [a-z0-9_-]; anything else is no flag, and is not echoed (the
    // path may hold any bytes, JSON may not).
    if (!CheckObjectName(key).ok()) return Error(404, "", "FLAG_NOT_FOUND", "no such flag");
  }
  std::variant<OfrepSubject, OfrepContextError> context = ReadOfrepContext(req.body, clock_.Now());
  if (const OfrepContextError* e = std::get_if<OfrepContextError>(&context)) {
    return Error(400, key, e->code, e->details);
  }
  const OfrepSubject& subject = std::get<OfrepSubject>(context);
  // Keep the snapshot alive: the flags refer into it.
  const v1::FlagSnapshot snapshot = fleet_->FlagSnapshot();
  if (!key.empty()) {
    for (const v1::Flag& f : snapshot.flags()) {
      if (f.name() == key) return {200, "application/json", Evaluated(f, subject), {}};
    }
    return Error(404, key, "FLAG_NOT_FOUND", absl::StrCat("flag ", key, " not found"));
  }
  std::string body = R"({"flags":[)";
  for (int i = 0; i < snapshot.flags_size(); ++i) {
    absl::StrAppend(&body, i ? "," : "", Evaluated(snapshot.flags(i), subject));
  }
  absl::StrAppend(&body, R"(],"metadata":{"sluiceRevision":)", snapshot.revision(), "}}");
  return {200, "application/json", std::move(body), {}};
}

}  // namespace sluice::controller
