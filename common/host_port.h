// Checks a listening address a user gives on the command line.
#ifndef SLUICE_COMMON_HOST_PORT_H_
#define SLUICE_COMMON_HOST_PORT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sluice {

// "HOST:PORT": HOST an IPv4 address or host name (letters, digits, '.', '-'), or an
// IPv6 address in brackets ("[::1]:9187"); PORT a decimal in 1..65535. Checks the
// syntax only (resolves and binds nothing). INVALID_ARGUMENT says why, without
// naming the flag (the caller prefixes it).
absl::Status CheckHostPort(absl::string_view address);

// Whether the HOST of "HOST:PORT" reaches this machine only: 127.0.0.0/8,
// "localhost" or [::1]. Anything else — 0.0.0.0 and [::] included — is reachable
// from the network.
bool IsLoopbackAddress(absl::string_view address);

}  // namespace sluice

#endif  // SLUICE_COMMON_HOST_PORT_H_
