#include "common/http_server.h"

#include <sstream>

#include "CivetServer.h"
#include "absl/strings/str_cat.h"
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

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::shared_ptr<prometheus::Registry> registry,
    ReadinessCheck readiness, std::vector<std::pair<std::string, Respond>> extra) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  try {
    server->server_ = std::make_unique<CivetServer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", "4", "enable_keep_alive", "no"});
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
  std::vector<int> ports = server->server_->getListeningPorts();
  server->port_ = ports.empty() ? 0 : ports[0];
  return server;
}

HttpServer::~HttpServer() {
  if (server_) server_->close();
}

}  // namespace sluice
