// The HTTP endpoints every Sluice process serves: /metrics (Prometheus text format),
// /healthz (the process is alive) and /ready (its dependencies are reachable).
#ifndef SLUICE_COMMON_HTTP_SERVER_H_
#define SLUICE_COMMON_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"

class CivetServer;

namespace sluice {

// Serves a Prometheus registry and the health endpoints on CivetWeb.
// Handlers run on CivetWeb's threads, so `readiness` must be thread-safe.
class HttpServer {
 public:
  // Returns OK when ready, or a status whose message explains what is missing;
  // /ready answers 200 or 503 with that message.
  using ReadinessCheck = std::function<absl::Status()>;
  // Another plain-text endpoint: the HTTP status (200 or 503) and body of a GET.
  using Respond = std::function<std::pair<int, std::string>()>;

  // A request to an API endpoint (any method), and its answer.
  struct Request {
    std::string method;
    // URL-decoded, from the endpoint's prefix on ("/ofrep/v1/evaluate/flags/f").
    std::string path;
    // The Authorization header, if sent.
    std::optional<std::string> authorization;
    // The caller as gRPC writes a peer ("ipv4:127.0.0.1:5555", "ipv6:%5B::1%5D:5555"),
    // so the controller's CallAuthorizer judges both alike.
    std::string peer;
    std::string body;
  };
  struct Response {
    int code = 200;
    std::string content_type = "application/json";
    std::string body;
    // More headers (e.g. Retry-After).
    std::vector<std::pair<std::string, std::string>> headers;
  };
  using Handle = std::function<Response(const Request&)>;
  // An API endpoint: `admit` sees the request before its body is read (method,
  // authorization, peer; `body` empty) and returns a refusal, or nullopt to go on;
  // then `handle` answers the whole request. `answered` (may be null) is told the
  // status of every answer, the server's own refusals (411, 413) included.
  struct Endpoint {
    std::function<std::optional<Response>(const Request&)> admit;
    Handle handle;
    std::function<void(int)> answered;
  };
  // Bodies larger than this are refused (413) before a handler sees them; a body
  // must say its length (411 otherwise) and arrive within kBodyDeadline, so a slow
  // or endless sender cannot hold one of the server's threads.
  static constexpr size_t kMaxRequestBody = 64 * 1024;
  static constexpr absl::Duration kBodyDeadline = absl::Seconds(5);

  // Starts listening on `address` ("0.0.0.0:9187"; port 0 picks a free port).
  // Returns UNAVAILABLE if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, std::shared_ptr<prometheus::Registry> registry,
      ReadinessCheck readiness, std::vector<std::pair<std::string, Respond>> extra = {},
      std::vector<std::pair<std::string, Endpoint>> api = {});
  ~HttpServer();

  // The port actually bound.
  int port() const { return port_; }

 private:
  class Handler;
  class ApiHandler;
  HttpServer() = default;

  std::unique_ptr<CivetServer> server_;
  std::unique_ptr<Handler> metrics_;
  std::unique_ptr<Handler> healthz_;
  std::unique_ptr<Handler> ready_;
  std::vector<std::unique_ptr<Handler>> extra_;
  std::vector<std::unique_ptr<ApiHandler>> api_;
  int port_ = 0;
};

}  // namespace sluice

#endif  // SLUICE_COMMON_HTTP_SERVER_H_
