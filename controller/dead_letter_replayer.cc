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
// (see DeadLetterReplayer::Replay); "" or why it is left pending.
std::string RouteAgain(const v1::Rollout& rollout, const flags::FlagSchedule& flag,
                       absl::Time decided_before, worker::Message* m) {
  if (!m->timestamp) {
    return "its rollout path and timestamp were not kept (written before Sluice kept them, "
           "or a timestamp PostgreSQL cannot hold); discard it, or replay it after removing "
           "the rollout";
  }
  if (*m->timestamp >= decided_before) {
    return absl::StrCat("its timestamp ", absl::FormatTime(*m->timestamp),
                        " is later than the flag's final schedule; replay it after then");
  }
  if (flag.BeforeKeptSchedule(*m->timestamp)) {
    return absl::StrCat("its timestamp ", absl::FormatTime(*m->timestamp),
                        " is older than the flag's kept schedule, so its path as of then is "
                        "no longer known; discard it");
  }
  const flags::Evaluation e =
      flag.EvaluateItem(flags::RoutingKeyOf(rollout, m->key, m->payload), m->timestamp);
  m->path = e.in_rollout ? worker::Path::kKafka : worker::Path::kLegacy;
  return "";
}

// "" when the replay can write `m` through `pipeline` as it is now; else why the
// dead letter is left pending, untouched (its own reason kept).
std::string WhyNotReplayable(const v1::PipelineConfig& pipeline, bool stored_path,
                             const flags::FlagSchedule* flag, absl::Time decided_before,
                             worker::Message* m) {
  if (!stored_path && pipeline.has_rollout()) {
    if (std::string why = RouteAgain(pipeline.rollout(), *flag, decided_before, m); !why.empty()) {
      return why;
    }
  }
  if (m->path == worker::Path::kLegacy) {
    if (!pipeline.has_rollout()) {
      return "it was on the legacy path and the pipeline has no rollout now; discard it";
    }
    if (pipeline.rollout().skip()) {
      return "it is on the legacy path, which this pipeline skips (the legacy system takes "
             "its items); discard it once the legacy system has it";
    }
  }
  for (const v1::ColumnMapping& c : pipeline.columns()) {
    if (c.source() == v1::COLUMN_SOURCE_HEADER && !m->headers_read) {
      return "its headers were not kept (the pipeline read no headers when it failed) and "
             "the mapping reads a header now; discard it";
    }
  }
  return "";
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
                 "kafka_timestamp) * 1000000)::bigint::text, ''), encode(headers, 'hex')"
                 ", coalesce(rollout_path, '') FROM sluice_dead_letters WHERE "
                 "consumer_group = $1 AND ($2::bigint = 0 OR id >= $2::bigint) AND "
                 "($3::bigint = 0 OR id <= $3::bigint) AND ($4 = '' OR sqlstate = $4) AND "
                 "state = 'pending' ORDER BY id LIMIT $5",
                 {pipeline.consumer_group().c_str(), from.c_str(), to.c_str(),
                  filter.sqlstate().c_str(), limit.c_str()}));
  worker::Batch batch;
  int64_t left_pending = 0;
  std::string first_reason;
  for (int i = 0; i < r.rows(); ++i) {
    worker::Message& m = batch.messages.emplace_back();
    m.topic = r.Value(i, 0);
    m.partition = std::stoi(r.Value(i, 1));
    m.offset = std::stoll(r.Value(i, 2));
    if (std::string(r.Value(i, 3)) == "t") m.key = absl::HexStringToBytes(r.Value(i, 4));
    if (std::string(r.Value(i, 5)) == "t") m.payload = absl::HexStringToBytes(r.Value(i, 6));
    int64_t micros = 0;
    if (absl::SimpleAtoi(r.Value(i, 7), &micros)) m.timestamp = absl::FromUnixMicros(micros);
    if (!r.IsNull(i, 8)) {
      absl::StatusOr<KafkaHeaders> headers =
          DecodeKafkaHeaders(absl::HexStringToBytes(r.Value(i, 8)));
      if (!headers.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("dead letter at ", m.topic, "/", m.partition, " offset ", m.offset,
                         ": its headers are not in a form this controller reads (",
                         headers.status().message(), "); upgrade the controller"));
      }
      m.headers = *std::move(headers);
      m.headers_read = true;
    }
    const std::string path = r.Value(i, 9);
    if (path == "legacy") m.path = worker::Path::kLegacy;
    if (std::string why = WhyNotReplayable(pipeline, !path.empty(), flag.get(), decided_before, &m);
        !why.empty()) {
      // Left out of the batch: neither written nor marked, its own reason kept.
      ++left_pending;
      if (first_reason.empty()) {
        first_reason = absl::StrCat("offset ", m.topic, "/", m.partition, ":", m.offset, ": ", why);
      }
      batch.messages.pop_back();
    }
  }
  v1::ReplayDeadLettersResponse out;
  out.set_selected(static_cast<int64_t>(batch.messages.size()) + left_pending);
  out.set_left_pending(left_pending);
  out.set_left_pending_reason(first_reason);
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
