// Decides who made a gRPC call to the controller and whether they may make it.
#ifndef SLUICE_CONTROLLER_CALL_AUTHORIZER_H_
#define SLUICE_CONTROLLER_CALL_AUTHORIZER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "controller/role.h"
#include "controller/token_table.h"

namespace grpc {
class ServerContextBase;
}

namespace sluice::controller {

struct Caller {
  // The audit log's actor: the token's NAME, "local" for a loopback caller of a
  // controller without tokens, "unauthenticated <peer>" under --allow-unauthenticated.
  std::string name;
  Role role;
  // Who owns the worker ids this caller opens streams for: the token's NAME, or
  // one owner for every caller of a controller without tokens (a reconnect comes
  // from another port, and must still supersede its half-open stream).
  std::string owner;
};

// What one call presents.
struct CallCredentials {
  // The "authorization" metadata ("Bearer TOKEN"), if sent.
  std::optional<std::string> authorization;
  // gRPC's peer ("ipv4:127.0.0.1:5555", "ipv6:[::1]:5555", "unix:...").
  std::string peer;
  // The peer presented a client certificate that the --tls-client-ca verified.
  bool verified_client_certificate = false;
};

class CallAuthorizer {
 public:
  struct Options {
    // Null: no authentication. Loopback callers are then admin "local"; other
    // callers are refused unless `allow_unauthenticated`.
    std::shared_ptr<const TokenTable> tokens;
    bool allow_unauthenticated = false;
    // Mutual TLS for workers: the worker role also needs a verified client
    // certificate.
    bool require_worker_certificate = false;
  };
  explicit CallAuthorizer(Options options)
      : options_(options), tokens_(std::move(options.tokens)) {}

  // UNAUTHENTICATED when no token, a malformed one or an unknown one is
  // presented (or a worker lacks its certificate); PERMISSION_DENIED when the
  // caller's role does not allow `needed`. Messages never contain the token.
  absl::StatusOr<Caller> Authorize(const CallCredentials& call, Role needed) const;

  // The same, reading the credentials from a server call. Streams call it again
  // while they run, so a revoked token ends them.
  absl::StatusOr<Caller> Authorize(const grpc::ServerContextBase& ctx, Role needed) const;

  // New tokens (the tokens file read again on SIGHUP). FAILED_PRECONDITION for a
  // controller started without tokens: whether it may listen beyond loopback was
  // decided at start.
  absl::Status ReplaceTokens(std::shared_ptr<const TokenTable> tokens);

 private:
  absl::StatusOr<Caller> Identify(const CallCredentials& call) const;

  const Options options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> tokens_ ABSL_GUARDED_BY(mu_);
};

// Whether gRPC's peer string names this machine: 127.0.0.0/8, ::1 or an
// IPv4-mapped 127.0.0.0/8, or a unix socket. gRPC 1.51 writes "ipv4:127.0.0.1:5",
// "ipv6:%5B::1%5D:5" (brackets percent-encoded) or "unix:/path".
bool IsLoopbackPeer(absl::string_view peer);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_CALL_AUTHORIZER_H_
