#include "controller/dead_letter_replayer.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/postgres/pg_connection.h"
#include "worker/postgres/postgres_batch_sink.h"

namespace sluice::controller {
absl::StatusOr<v1::ReplayDeadLettersResponse> DeadLetterReplayer::Replay(
    const v1::PipelineConfig& pipeline, const v1::DeadLetterFilter& filter,
    const std::string& actor) {
  worker::PostgresOptions connection;
  connection.conninfo = conninfo_;
  connection.application_name = "sluice-controller-replay";
  ASSIGN_OR_RETURN(std::unique_ptr<worker::PgConnection> conn,
                   worker::PgConnection::Connect(connection));
  const std::string from = std::to_string(filter.from_id());
  const std::string to = std::to_string(filter.to_id());
  const std::string limit = std::to_string(kMaxReplay);
  // Bytes as hex: the text protocol's bytea output, decoded here.
  ASSIGN_OR_RETURN(
      worker::PgResult r,
      conn->Exec("SELECT topic, kafka_partition, kafka_offset, kafka_key IS NOT NULL, "
                 "encode(coalesce(kafka_key, ''), 'hex'), payload IS NOT NULL, "
                 "encode(coalesce(payload, ''), 'hex') FROM sluice_dead_letters WHERE "
                 "consumer_group = $1 AND ($2::bigint = 0 OR id >= $2::bigint) AND "
                 "($3::bigint = 0 OR id <= $3::bigint) AND ($4 = '' OR sqlstate = $4) AND "
                 "state = 'pending' ORDER BY id LIMIT $5",
                 {pipeline.consumer_group().c_str(), from.c_str(), to.c_str(),
                  filter.sqlstate().c_str(), limit.c_str()}));
  worker::Batch batch;
  for (int i = 0; i < r.rows(); ++i) {
    worker::Message& m = batch.messages.emplace_back();
    m.topic = r.Value(i, 0);
    m.partition = std::stoi(r.Value(i, 1));
    m.offset = std::stoll(r.Value(i, 2));
    if (std::string(r.Value(i, 3)) == "t") m.key = absl::HexStringToBytes(r.Value(i, 4));
    if (std::string(r.Value(i, 5)) == "t") m.payload = absl::HexStringToBytes(r.Value(i, 6));
  }
  v1::ReplayDeadLettersResponse out;
  out.set_selected(static_cast<int64_t>(batch.messages.size()));
  if (batch.messages.empty()) return out;

  worker::PostgresSinkConfig sink = worker::SinkConfigFor(pipeline, connection);
  // A replay writes into the table as it is, and keeps refused rows as dead
  // letters whatever the pipeline's tolerance.
  sink.create_table = false;
  sink.refuse_bad_rows = false;
  ASSIGN_OR_RETURN(std::unique_ptr<worker::PostgresBatchSink> writer,
                   worker::PostgresBatchSink::Create(std::move(sink)));
  ASSIGN_OR_RETURN(worker::WriteResult written, writer->Replay(batch, actor));
  out.set_replayed(written.rows_written);
  out.set_still_refused(written.dead_letters);
  return out;
}

}  // namespace sluice::controller
