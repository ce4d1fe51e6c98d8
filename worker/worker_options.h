// The standalone worker's command line, turned into a validated config.
#ifndef SLUICE_WORKER_WORKER_OPTIONS_H_
#define SLUICE_WORKER_WORKER_OPTIONS_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/controller_channel.h"
#include "worker/ingest_loop.h"
#include "worker/postgres/postgres_writer_pool.h"
#include "worker/kafka_message_source.h"
#include "worker/postgres/postgres_batch_sink.h"

namespace sluice::worker {

struct WorkerOptions {
  // Label for metrics and logs; defaults to the consumer group.
  std::string pipeline_name;
  KafkaSourceConfig kafka;
  PostgresSinkConfig postgres;
  IngestLoopConfig loop;
  // PostgreSQL connections writing batches (standalone; a controller's pipeline says its own).
  int writers = kDefaultWriters;
  std::string metrics_address = "0.0.0.0:9187";
  // Controller mode: pipelines come from the controller at controller.address,
  // with its token (--controller-token-file or SLUICE_TOKEN) and TLS files.
  ControllerConnection controller;
  // Stable identity towards the controller (default: DefaultWorkerId).
  std::string worker_id;
  // How often a NACKed assignment is tried again.
  absl::Duration nack_retry_interval = absl::Seconds(10);
  std::string version_label;
  // Warnings to print once logging is up (e.g. a password given on argv).
  std::vector<std::string> warnings;
  bool help = false;
  std::string usage;
};

// Looks up an environment variable (injected so tests need not touch the process
// environment). Returns nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The worker id when --worker-id is not given: "HOST-PORT" with the first label
// of the host name and the port of --metrics-address (a name too long for the
// controller keeps its head and gains a hash of the whole). It stays the same across restarts (pipelines follow ids) and
// differs for two workers on one host, which cannot share a metrics port.
// INVALID_ARGUMENT when the port is 0 (picked at random on each start).
absl::StatusOr<std::string> DefaultWorkerId(const std::string& host,
                                            const std::string& metrics_address);

// Parses and validates argv. INVALID_ARGUMENT carries one line naming the flag.
// Reads the password file if one is named. Connects to nothing.
absl::StatusOr<WorkerOptions> ParseWorkerOptions(int argc, const char* const* argv,
                                                 const EnvLookup& env);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_WORKER_OPTIONS_H_
