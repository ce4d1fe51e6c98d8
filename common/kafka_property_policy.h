// Which librdkafka properties a pipeline may carry to the workers.
//
// A pipeline's kafka_properties are pushed by the controller to every worker it
// assigns, so a pipeline may only tune the consumer: a property that runs a
// command, loads code, reads a local file, changes how the worker authenticates to
// the brokers, or takes over what Sluice sets for exactly-once would hand the whole
// fleet to whoever can write a pipeline. The controller refuses such pipelines
// (create, update, validate) and never assigns a stored one; the worker refuses
// (NACKs) a pushed one. Properties given on the worker's own command line
// (--kafka-property: brokers' TLS and SASL) are not subject to this policy.
#ifndef SLUICE_COMMON_KAFKA_PROPERTY_POLICY_H_
#define SLUICE_COMMON_KAFKA_PROPERTY_POLICY_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace sluice {

// OK when a pipeline may set the librdkafka property `name` to `value`; else
// INVALID_ARGUMENT naming the property and why, e.g. "'sasl.kerberos.kinit.cmd' is
// not allowed in a pipeline (it runs a command on every worker)". Names match as
// librdkafka matches them: exactly (case and spaces count).
absl::Status CheckPipelineKafkaProperty(absl::string_view name, absl::string_view value);

// The allowed names, sorted (for docs and tests).
std::vector<std::string> PipelineKafkaPropertyNames();

// Checks every entry of a name → value map (std::map or protobuf Map) in name
// order: OK, or the first refusal as "kafka_properties: <why>".
template <typename Map>
absl::Status CheckPipelineKafkaProperties(const Map& properties) {
  std::vector<std::pair<std::string, std::string>> sorted;
  for (const auto& [name, value] : properties) sorted.emplace_back(name, value);
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [name, value] : sorted) {
    if (absl::Status s = CheckPipelineKafkaProperty(name, value); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("kafka_properties: ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace sluice

#endif  // SLUICE_COMMON_KAFKA_PROPERTY_POLICY_H_
