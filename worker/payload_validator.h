// Decides which payloads the target column cannot hold, before they reach COPY,
// so one bad message goes to the dead-letter table instead of failing its batch.
#ifndef SLUICE_WORKER_PAYLOAD_VALIDATOR_H_
#define SLUICE_WORKER_PAYLOAD_VALIDATOR_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "sluice/v1/pipeline.pb.h"

namespace sluice::worker {

// Why a payload was refused, worded and coded as PostgreSQL would refuse it.
struct Rejection {
  std::string error;
  std::string sqlstate;
};

// Checks payloads against the column type of a payload format.
// Not thread-safe (it reuses a parser); one per ingest loop.
class PayloadValidator {
 public:
  explicit PayloadValidator(::sluice::v1::PayloadFormat format);
  ~PayloadValidator();

  // Empty when PostgreSQL will accept `payload`; otherwise the reason it will not.
  std::optional<Rejection> Check(absl::string_view payload);

 private:
  class JsonParser;
  const ::sluice::v1::PayloadFormat format_;
  std::unique_ptr<JsonParser> json_;
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_PAYLOAD_VALIDATOR_H_
