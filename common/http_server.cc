#include "common/http_server.h"

#include <sstream>

#include "CivetServer.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "prometheus/text_serializer.h"

namespace sluice {

class HttpServer::Handler : public CivetHandler {
 public:
  Handler(std::string content_type, Respond respond)
      : content_type_(std::move(content_type)), respond_(std::move(respond)) {}

  bool handleGet(CivetServer*, struct mg_connection* conn) override {
    auto [code, body] = respond_();
    mg_printf(conn,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n",
              code, code == 200 ? "OK" : "Service Unavailable", content_type_.c_str(),
              body.size());
    mg_write(conn, body.data(), body.size());
    return true;
  }

 private:
  std::string content_type_;
  Respond respond_;
};

namespace {

const char* ReasonPhrase(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return code < 500 ? "Client Error" : "Server Error";
  }
}

}  // namespace

// Any method: the endpoint decides what it accepts.
class HttpServer::ApiHandler : public CivetHandler {
 public:
  explicit ApiHandler(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}

  bool handleGet(CivetServer*, struct mg_connection* conn) override { return Serve(conn); }
  bool handlePost(CivetServer*, struct mg_connection* conn) override { return Serve(conn); }
  bool handlePut(CivetServer*, struct mg_connection* conn) override { return Serve(conn); }
  bool handleDelete(CivetServer*, struct mg_connection* conn) override { return Serve(conn); }

 private:
  static Response Refusal(int code, absl::string_view details) {
    return {code, "application/json", absl::StrCat(R"({"errorDetails":")", details, "\"}"), {}};
  }

  Response Answer(struct mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    Request req;
    req.method = info->request_method != nullptr ? info->request_method : "";
    req.path = info->local_uri != nullptr ? info->local_uri : "";
    if (const char* auth = mg_get_header(conn, "Authorization")) req.authorization = auth;
    const std::string addr = info->remote_addr;
    req.peer = addr.find(':') == std::string::npos
                   ? absl::StrCat("ipv4:", addr, ":", info->remote_port)
                   : absl::StrCat("ipv6:%5B", addr, "%5D:", info->remote_port);
    // Judged before a byte of the body is read.
    if (endpoint_.admit) {
      if (std::optional<Response> refused = endpoint_.admit(req)) return *refused;
    }
    if (req.method == "POST" || req.method == "PUT") {
      if (info->content_length < 0) return Refusal(411, "a body needs a Content-Length");
      if (info->content_length > static_cast<long long>(kMaxRequestBody)) {
        return Refusal(413, "request body over 64 KiB");
      }
      const size_t length = static_cast<size_t>(info->content_length);
      req.body.resize(length);
      const absl::Time deadline = absl::Now() + kBodyDeadline;
      size_t got = 0;
      while (got < length) {
        if (absl::Now() > deadline) return Refusal(408, "the body took too long");
        const int n = mg_read(conn, req.body.data() + got, length - got);
        if (n <= 0) return Refusal(400, "the body ended before its Content-Length");
        got += static_cast<size_t>(n);
      }
    }
    return endpoint_.handle(req);
  }

  bool Serve(struct mg_connection* conn) {
    const Response resp = Answer(conn);
    if (endpoint_.answered) endpoint_.answered(resp.code);
    std::string head =
        absl::StrCat("HTTP/1.1 ", resp.code, " ", ReasonPhrase(resp.code),
                     "\r\nContent-Type: ", resp.content_type,
                     "\r\nContent-Length: ", resp.body.size(), "\r\nConnection: close\r\n");
    for (const auto& [name, value] : resp.headers) {
      absl::StrAppend(&head, name, ": ", value, "\r\n");
    }
    head += "\r\n";
    mg_write(conn, head.data(), head.size());
    mg_write(conn, resp.body.data(), resp.body.size());
    return true;
  }

  Endpoint endpoint_;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    ReadinessCheck readiness, std::vector<std::pair<std::string, Respond>> extra,
    std::vector<std::pair<std::string, Endpoint>> api) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  try {
    // Probes and scrapes share the threads with any API endpoint: enough of them,
    // and a bound on how long a connection may sit in a read.
    server->server_ = std::make_unique<CivetServer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", api.empty() ? "4" : "16", "enable_keep_alive",
        "no", "request_timeout_ms", "10000"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve HTTP on ", address, ": ", e.what()));
  }
  server->metrics_ = std::make_unique<Handler>(
      "text/plain; version=0.0.4; charset=utf-8", [registry]() {
        std::ostringstream out;
        prometheus::TextSerializer().Serialize(out, registry->Collect());
        return std::make_pair(200, out.str());
      });
  server->healthz_ = std::make_unique<Handler>(
      "text/plain", []() { return std::make_pair(200, std::string("ok\n")); });
  server->ready_ = std::make_unique<Handler>("text/plain", [readiness]() {
    absl::Status s = readiness ? readiness() : absl::OkStatus();
    if (s.ok()) return std::make_pair(200, std::string("ready\n"));
    return std::make_pair(503, absl::StrCat("not ready: ", s.message(), "\n"));
  });
  server->server_->addHandler("/metrics", server->metrics_.get());
  server->server_->addHandler("/healthz", server->healthz_.get());
  server->server_->addHandler("/ready", server->ready_.get());
  for (auto& [path, respond] : extra) {
    server->extra_.push_back(std::make_unique<Handler>("text/plain", std::move(respond)));
    server->server_->addHandler(path, server->extra_.back().get());
  }
  for (auto& [path, endpoint] : api) {
    server->api_.push_back(std::make_unique<ApiHandler>(std::move(endpoint)));
    server->server_->addHandler(path, server->api_.back().get());
  }
  std::vector<int> ports = server->server_->getListeningPorts();
  server->port_ = ports.empty() ? 0 : ports[0];
  return server;
}

HttpServer::~HttpServer() {
  if (server_) server_->close();
}

}  // namespace sluice
