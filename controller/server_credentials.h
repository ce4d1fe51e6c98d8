// The controller's transport security, from --tls-cert, --tls-key and
// --tls-client-ca.
#ifndef SLUICE_CONTROLLER_SERVER_CREDENTIALS_H_
#define SLUICE_CONTROLLER_SERVER_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace sluice::controller {

struct ServerTlsFiles {
  // PEM certificate chain and private key; both empty: plaintext.
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle for client certificates (mutual TLS). A client that presents a
  // certificate must chain to it; whether one is required is the authoriser's
  // decision (workers need one, sluicectl does not).
  std::string client_ca_file;
  // Refuse a client without a certificate at the handshake (the flagd sync
  // listener, whose callers present no token).
  bool require_client_certificate = false;
};

// Insecure credentials when no certificate is given. INVALID_ARGUMENT naming the
// flag when one of cert/key is missing, a file cannot be read, or a client CA is
// given without a certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerTlsFiles& files);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_SERVER_CREDENTIALS_H_
