#include "common/controller_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/controller_addresses.h"
#include "common/grpc_limits.h"
#include "common/host_port.h"
#include "common/secret_file.h"

namespace sluice {
namespace {

absl::StatusOr<std::string> ReadFileFor(const char* flag, const std::string& path) {
  absl::StatusOr<std::string> content = ReadSecretFile(path);
  if (!content.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", content.status().message()));
  }
  return content;
}

}  // namespace

absl::Status CheckControllerConnection(const ControllerConnection& connection) {
  if (connection.tls_cert_file.empty() != connection.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!connection.tls_cert_file.empty() && connection.tls_ca_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert needs --tls-ca (the controller's CA)");
  }
  absl::StatusOr<ControllerAddresses> addresses = ControllerAddresses::Parse(connection.address);
  if (!addresses.ok()) return addresses.status();
  for (const std::string& address : addresses->all()) {
    const bool local = absl::StartsWith(address, "unix:") || IsLoopbackAddress(address);
    if (connection.tls_ca_file.empty() && !connection.token.empty() && !local &&
        !connection.allow_plaintext_token) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the token would cross the network to ", address,
          " in clear text: give --tls-ca, or accept that with --allow-plaintext-token"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenControllerChannel(
    const ControllerConnection& connection) {
  return OpenControllerChannel(connection, SluiceChannelArguments());
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenControllerChannel(
    const ControllerConnection& connection, const grpc::ChannelArguments& args) {
  if (absl::Status s = CheckControllerConnection(connection); !s.ok()) return s;
  if (absl::StrContains(connection.address, ',')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a channel goes to one controller address, not the list ", connection.address));
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (connection.tls_ca_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions options;
    absl::StatusOr<std::string> ca = ReadFileFor("--tls-ca", connection.tls_ca_file);
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    if (!connection.tls_cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadFileFor("--tls-cert", connection.tls_cert_file);
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadFileFor("--tls-key", connection.tls_key_file);
      if (!key.ok()) return key.status();
      options.pem_cert_chain = *cert;
      options.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(options);
  }
  return grpc::CreateCustomChannel(connection.address, credentials, args);
}

std::optional<std::string> FollowerRefusalLeader(const grpc::ClientContext& ctx) {
  const auto& trailing = ctx.GetServerTrailingMetadata();
  auto it = trailing.find(kLeaderMetadataKey);
  if (it == trailing.end()) return std::nullopt;
  return std::string(it->second.data(), it->second.size());
}

std::string FollowableLeader(const ControllerConnection& connection,
                             const std::optional<std::string>& leader) {
  if (!leader || leader->empty() || absl::StrContains(*leader, ',')) return "";
  ControllerConnection to_leader = connection;
  to_leader.address = *leader;
  return CheckControllerConnection(to_leader).ok() ? *leader : "";
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenControllerChannelTo(
    const ControllerConnection& connection, const std::string& address) {
  ControllerConnection one = connection;
  one.address = address;
  return OpenControllerChannel(one);
}

void AddControllerToken(const ControllerConnection& connection, grpc::ClientContext* ctx) {
  if (!connection.token.empty()) ctx->AddMetadata("authorization", "Bearer " + connection.token);
}

std::optional<std::string> SluiceTokenFromEnvironment() {
  const char* value = std::getenv("SLUICE_TOKEN");
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<std::string> ReadClientToken(const std::string& token_file, const char* flag,
                                            const std::optional<std::string>& env_token) {
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFileFor(flag, token_file);
    if (!token.ok()) return token.status();
    if (token->empty())
      return absl::InvalidArgumentError(absl::StrCat(flag, ": ", token_file, " is empty"));
    return token;
  }
  return env_token.value_or("");
}

}  // namespace sluice
