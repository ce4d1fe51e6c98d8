#include "controller/dead_letter_replayer.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/kafka_headers.h"
#include "common/status_macros.h"
#include "flags/routing_key.h"
#include "worker/postgres/pg_connection.h"
#include "worker/postgres/postgres_batch_sink.h"

namespace sluice::controller {
namespace {

// Sets m->path for a dead letter of a rollout pipeline whose stored path is ""
// (see DeadLetterReplayer::Replay), or the reason it stays pending.
void RouteAgain(const v1::Rollout& rollout, const flags::FlagSchedule& flag,
                absl::Time decided_before, worker::Message* m) {
  if (!m->timestamp) {
    m->unrouted_reason =
        "not replayed: written before dead letters kept their rollout path and timestamp; "
        "discard it, or replay it after removing the rollout";
    return;
  }
  if (*m->timestamp >= decided_before) {
    m->unrouted_reason =
        absl::StrCat("not replayed yet: its timestamp ", absl::FormatTime(*m->timestamp),
                     " is later than the flag's schedule is final; replay it after then");
    return;
  }
  const flags::Evaluation e =
      flag.EvaluateItem(flags::RoutingKeyOf(rollout, m->key, m->payload), m->timestamp);
  m->path = e.in_rollout ? worker::Path::kKafka : worker::Path::kLegacy;
}

}  // namespace

absl::StatusOr<v1::ReplayDeadLettersResponse> DeadLetterReplayer::Replay(
    const v1::PipelineConfig& pipeline, const v1::DeadLetterFilter& filter,
    const std::string& actor, std::shared_ptr<const flags::FlagSchedule> flag,
    absl::Time decided_before) {
  if (pipeline.has_rollout() && flag == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("pipeline ", pipeline.name(), ": its rollout flag's schedule is needed"));
  }
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
                 "encode(coalesce(payload, ''), 'hex'), coalesce((extract(epoch FROM "
                 "kafka_timestamp) * 1000000)::bigint::text, ''), encode(coalesce(headers, ''), "
                 "'hex'), coalesce(rollout_path, '') FROM sluice_dead_letters WHERE "
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
    int64_t micros = 0;
    if (absl::SimpleAtoi(r.Value(i, 7), &micros)) m.timestamp = absl::FromUnixMicros(micros);
    absl::StatusOr<KafkaHeaders> headers =
        DecodeKafkaHeaders(absl::HexStringToBytes(r.Value(i, 8)));
    if (!headers.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("dead letter at ", m.topic, "/", m.partition, " offset ", m.offset,
                       ": its headers are not in a form this controller reads (",
                       headers.status().message(), "); upgrade the controller"));
    }
    m.headers = *std::move(headers);
    const std::string path = r.Value(i, 9);
    if (path == "legacy") {
      m.path = worker::Path::kLegacy;
    } else if (path.empty() && pipeline.has_rollout()) {
      RouteAgain(pipeline.rollout(), *flag, decided_before, &m);
    }
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
