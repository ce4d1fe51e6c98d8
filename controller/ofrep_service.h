// OFREP, the OpenFeature Remote Evaluation Protocol (open-feature/protocol,
// service/openapi.yaml 0.3.0), on the controller's HTTP port: Sluice's rollout
// flags evaluated by the controller for clients that prefer remote evaluation
// (the OFREP providers of the OpenFeature SDKs).
#ifndef SLUICE_CONTROLLER_OFREP_SERVICE_H_
#define SLUICE_CONTROLLER_OFREP_SERVICE_H_

#include <functional>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/http_server.h"
#include "controller/call_authorizer.h"
#include "controller/fleet.h"

namespace sluice::controller {

// Thread-safe (CivetWeb's threads call Handle).
//
//   POST /ofrep/v1/evaluate/flags/{key}   one flag
//   POST /ofrep/v1/evaluate/flags         every flag (bulk)
//
// The body is {"context": {...}}. The routing key is `routing_key`, else the
// OpenFeature `targetingKey` (a string; neither: 400 TARGETING_KEY_MISSING). The
// item's time is `item_ts_ms` (Unix milliseconds, an integer); without it, now.
// The answer is what the workers decide for that item (flags::FlagSchedule):
// value and variant "kafka" or "legacy", reason SPLIT (a percentage strictly
// between 0 and 100) or TARGETING_MATCH, and metadata bucket, basisPoints and
// sluiceVersion. Unlike an in-process flagd evaluator, the decision is Sluice's
// own code, so non-ASCII keys agree too.
//
// Callers need a token with the read role, judged as a gRPC call from the same
// address would be (CallAuthorizer: 401 without a valid one, 403 for another
// role). The port is plaintext: a token from another machine crosses the network
// in clear text, so remote callers are refused (403) unless
// `allow_plaintext_tokens` (put TLS in front, docs/OPENFEATURE.md).
//
// A replica whose stored state has been unreadable for longer than `fresh`
// allows (the controller passes half the flag lead: changes take effect a lead
// after they are made, so a copy younger than that still decides current items
// right) answers 503 instead of deciding on a stale copy.
class OfrepService {
 public:
  struct Options {
    bool allow_plaintext_tokens = false;
  };
  // `fresh`: OK while the flags held are current enough to decide with.
  OfrepService(Fleet* fleet, const Clock& clock, const CallAuthorizer& auth, Options options,
               std::function<absl::Status()> fresh)
      : fleet_(fleet), clock_(clock), auth_(auth), options_(options), fresh_(std::move(fresh)) {}

  // The prefix it serves, for HttpServer::Start.
  static constexpr char kPath[] = "/ofrep/v1/evaluate/flags";

  // Before the body is read: the method, the peer and the token.
  std::optional<HttpServer::Response> Admit(const HttpServer::Request& req) const;
  // Admit, then the evaluation (what HttpServer does in two steps).
  HttpServer::Response Handle(const HttpServer::Request& req) const;
  // The endpoint for HttpServer::Start; `answered` is told every answer's status.
  HttpServer::Endpoint Endpoint(std::function<void(int)> answered) const;

 private:
  HttpServer::Response Evaluate(const HttpServer::Request& req) const;

  Fleet* fleet_;
  const Clock& clock_;
  const CallAuthorizer& auth_;
  const Options options_;
  std::function<absl::Status()> fresh_;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_OFREP_SERVICE_H_
