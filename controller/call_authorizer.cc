#include "controller/call_authorizer.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace sluice::controller {

bool IsLoopbackPeer(absl::string_view peer) {
  if (absl::StartsWith(peer, "unix:")) return true;
  std::string text;
  if (absl::ConsumePrefix(&peer, "ipv4:")) {
    text = std::string(peer);
  } else if (absl::ConsumePrefix(&peer, "ipv6:")) {
    text = absl::StrReplaceAll(peer, {{"%5B", "["}, {"%5D", "]"}, {"%5b", "["}, {"%5d", "]"}});
  } else {
    return false;
  }
  // HOST:PORT, HOST in brackets for IPv6.
  std::string host;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    // A zone ("fe80::1%eth0") cannot be loopback.
  } else {
    const size_t colon = text.rfind(':');
    host = colon == std::string::npos ? text : text.substr(0, colon);
  }
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

absl::StatusOr<Caller> CallAuthorizer::Identify(const CallCredentials& call) const {
  std::shared_ptr<const TokenTable> tokens;
  {
    absl::MutexLock lock(&mu_);
    tokens = tokens_;
  }
  if (tokens == nullptr) {
    if (IsLoopbackPeer(call.peer)) return Caller{"local", Role::kAdmin, "local"};
    if (options_.allow_unauthenticated) {
      return Caller{absl::StrCat("unauthenticated ", call.peer), Role::kAdmin, "unauthenticated"};
    }
    return absl::UnauthenticatedError(
        "the controller has no tokens and serves only this machine's callers");
  }
  if (!call.authorization) {
    return absl::UnauthenticatedError(
        "no token: send \"authorization: Bearer TOKEN\" (sluicectl: SLUICE_TOKEN or "
        "--token-file)");
  }
  absl::string_view value = *call.authorization;
  // RFC 6750: the scheme is case-insensitive.
  if (value.size() < 7 || !absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
    return absl::UnauthenticatedError("the authorization metadata must be \"Bearer TOKEN\"");
  }
  const TokenHolder* holder = tokens->Find(absl::StripAsciiWhitespace(value.substr(7)));
  if (holder == nullptr) return absl::UnauthenticatedError("unknown token");
  return Caller{holder->name, holder->role, holder->name};
}

absl::Status CallAuthorizer::ReplaceTokens(std::shared_ptr<const TokenTable> tokens) {
  absl::MutexLock lock(&mu_);
  if (tokens_ == nullptr) {
    return absl::FailedPreconditionError(
        "the controller was started without --auth-tokens-file; restart it with one");
  }
  tokens_ = std::move(tokens);
  return absl::OkStatus();
}

absl::StatusOr<Caller> CallAuthorizer::Authorize(const CallCredentials& call, Role needed) const {
  absl::StatusOr<Caller> caller = Identify(call);
  if (!caller.ok()) return caller.status();
  if (!RoleAllows(caller->role, needed)) {
    return absl::PermissionDeniedError(absl::StrCat("this call needs the ", RoleName(needed),
                                                    " role; ", caller->name, " has ",
                                                    RoleName(caller->role)));
  }
  if (needed == Role::kWorker && options_.require_worker_certificate &&
      !call.verified_client_certificate) {
    return absl::UnauthenticatedError(
        "workers must present a client certificate signed by the controller's --tls-client-ca");
  }
  return caller;
}

absl::StatusOr<Caller> CallAuthorizer::Authorize(const grpc::ServerContextBase& ctx,
                                                 Role needed) const {
  CallCredentials call;
  call.peer = ctx.peer();
  auto it = ctx.client_metadata().find("authorization");
  if (it != ctx.client_metadata().end()) {
    call.authorization = std::string(it->second.data(), it->second.size());
  }
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  // With SSL credentials the peer is authenticated only when its certificate was
  // verified against the client CA.
  call.verified_client_certificate =
      auth != nullptr && auth->IsPeerAuthenticated() &&
      !auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME).empty();
  return Authorize(call, needed);
}

}  // namespace sluice::controller
