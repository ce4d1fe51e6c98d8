#include "controller/target_table_checker.h"

#include "worker/postgres/postgres_batch_sink.h"

namespace sluice::controller {

absl::StatusOr<std::string> TargetTableChecker::Check(const v1::PipelineConfig& pipeline) const {
  worker::PostgresOptions connection;
  connection.conninfo = conninfo_;
  connection.application_name = "sluice-controller-validate";
  absl::Status s =
      worker::PostgresBatchSink::CheckTarget(worker::SinkConfigFor(pipeline, connection));
  if (s.ok()) return std::string();
  if (absl::IsUnavailable(s)) return s;
  return std::string(s.message());
}

}  // namespace sluice::controller
