#include "common/host_port.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sluice {

absl::Status CheckHostPort(absl::string_view address) {
  const absl::Status malformed =
      absl::InvalidArgumentError(absl::StrCat("'", address, "' is not HOST:PORT"));
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return malformed;
  const absl::string_view host = address.substr(0, colon);
  const absl::string_view port_text = address.substr(colon + 1);
  if (host.empty() || port_text.empty() || port_text.size() > 5) return malformed;
  for (char c : port_text) {
    if (!absl::ascii_isdigit(c)) return malformed;
  }
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return malformed;
    for (char c : host.substr(1, host.size() - 2)) {
      if (!absl::ascii_isxdigit(c) && c != ':' && c != '.') return malformed;
    }
  } else {
    for (char c : host) {
      if (!absl::ascii_isalnum(c) && c != '.' && c != '-') return malformed;
    }
  }
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port)) return malformed;
  if (port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("port ", port, " is not in 1..65535"));
  }
  return absl::OkStatus();
}

bool IsLoopbackAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  const absl::string_view host =
      colon == absl::string_view::npos ? address : address.substr(0, colon);
  if (host == "localhost" || host == "[::1]") return true;
  // 127.0.0.0/8, written as a dotted quad.
  if (!absl::StartsWith(host, "127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(c)) {
      return false;
    }
  }
  return dots == 3;
}

}  // namespace sluice
