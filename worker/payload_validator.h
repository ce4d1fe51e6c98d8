// Decides which payloads the target column cannot hold, before they reach COPY,
// so one bad message goes to the dead-letter table instead of failing its batch.
#ifndef SLUICE_WORKER_PAYLOAD_VALIDATOR_H_
#define SLUICE_WORKER_PAYLOAD_VALIDATOR_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "sluice/v1/pipeline.pb.h"
#include "worker/json_reader.h"

namespace sluice::worker {

// Why a payload was refused, worded and coded as PostgreSQL would refuse it.
struct Rejection {
  std::string error;
  std::string sqlstate;
};

// True when valid JSON text holds the escape \u0000 (and not an escaped backslash
// followed by "u0000"), which jsonb refuses (22P05).
bool HasJsonNulEscape(absl::string_view json);

// Why jsonb refuses `payload`, given CheckJsonSyntax's (or ReadJson's) verdict on
// it: invalid UTF-8 or a NUL byte (22021), a grammar error (22P02), the escape
// \u0000 (22P05); nullopt when jsonb accepts it. Thread-safe.
std::optional<Rejection> JsonbRejection(absl::string_view payload, const absl::Status& syntax);

// Checks payloads against the column type of a payload format.
// Not thread-safe (it reuses a parser); one per ingest loop.
class PayloadValidator {
 public:
  explicit PayloadValidator(::sluice::v1::PayloadFormat format);
  ~PayloadValidator();

  // Empty when PostgreSQL will accept `payload`; otherwise the reason it will not.
  // `read`: ReadJson's reading of `payload` when the router made one
  // (Message::json): a JSON payload is then not read again.
  std::optional<Rejection> Check(absl::string_view payload, const JsonRead* read = nullptr);

 private:
  class JsonParser;
  const ::sluice::v1::PayloadFormat format_;
  std::unique_ptr<JsonParser> json_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_PAYLOAD_VALIDATOR_H_
