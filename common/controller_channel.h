// How a client (sluicectl, a worker, sluice-produce, FlagClient) reaches the
// controller: address, bearer token and TLS files.
#ifndef SLUICE_COMMON_CONTROLLER_CHANNEL_H_
#define SLUICE_COMMON_CONTROLLER_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace sluice {

struct ControllerConnection {
  // One address, or the replicas' addresses separated by commas (a client walks
  // them with ControllerAddresses); OpenControllerChannel takes one.
  std::string address;
  // Sent as "authorization: Bearer TOKEN" on every call; empty: none.
  std::string token;
  // PEM CA bundle that verifies the controller's certificate; empty: plaintext.
  std::string tls_ca_file;
  // Client certificate and key for mutual TLS (workers); both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Send the token without TLS to an address beyond this machine (it can then be
  // read on the way); refused otherwise.
  bool allow_plaintext_token = false;
};

// A channel with TLS when tls_ca_file is set, bounded to the project's message
// size. INVALID_ARGUMENT naming the flag when a file cannot be read, only one of
// cert/key is given, or a token would go in clear text beyond loopback without
// allow_plaintext_token.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenControllerChannel(
    const ControllerConnection& connection);
// The same with `args` (built on SluiceChannelArguments()) in place of the
// defaults: e.g. a local subchannel pool, so that a load tool's channels each
// hold their own connection as separate worker processes would.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenControllerChannel(
    const ControllerConnection& connection, const grpc::ChannelArguments& args);

// The same to one `address` of the replicas `connection` lists (or a leader a
// follower named), with its token and TLS settings.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenControllerChannelTo(
    const ControllerConnection& connection, const std::string& address);

// INVALID_ARGUMENT naming the flag when only one of cert/key is given, a client
// certificate comes without the controller's CA, the address list is malformed, or
// the token would go in clear text (no tls_ca_file) to an address beyond this
// machine without allow_plaintext_token. Reads no file; OpenControllerChannel checks it first.
absl::Status CheckControllerConnection(const ControllerConnection& connection);

// The call was refused by a follower replica: the leader's address it named ("" if
// no replica leads now). nullopt for any other ending (the call may have run).
std::optional<std::string> FollowerRefusalLeader(const grpc::ClientContext& ctx);

// `leader` (from FollowerRefusalLeader) if this client may call it with
// `connection`'s token and TLS settings (CheckControllerConnection: a token goes
// in clear text to loopback only, unless allowed), else "": the leader's address
// is then in the refusal's message for the operator.
std::string FollowableLeader(const ControllerConnection& connection,
                             const std::optional<std::string>& leader);

// Adds the token to a call (nothing without one).
void AddControllerToken(const ControllerConnection& connection, grpc::ClientContext* ctx);

// The token for a client: the file's content when `token_file` is given
// (INVALID_ARGUMENT naming `flag` if unreadable or empty), else `env_token`
// (SLUICE_TOKEN, looked up by the caller; empty if unset). Never from argv.
// SLUICE_TOKEN from this process's environment (for a main; libraries take the
// value from their caller).
std::optional<std::string> SluiceTokenFromEnvironment();

absl::StatusOr<std::string> ReadClientToken(const std::string& token_file, const char* flag,
                                            const std::optional<std::string>& env_token);

}  // namespace sluice

#endif  // SLUICE_COMMON_CONTROLLER_CHANNEL_H_
