// DDL of Sluice's bookkeeping tables in the ingestion database, shared by the
// worker (which writes them) and the controller (which reads and resets offsets).
#ifndef SLUICE_COMMON_SLUICE_SCHEMA_H_
#define SLUICE_COMMON_SLUICE_SCHEMA_H_

namespace sluice {

// Next offset to read per consumer group and partition, written in the same
// transaction as the rows (the exactly-once ledger).
inline constexpr char kCreateOffsetsTable[] =
    "CREATE TABLE IF NOT EXISTS sluice_offsets (consumer_group text NOT NULL, "
    "topic text NOT NULL, kafka_partition integer NOT NULL, next_offset bigint NOT NULL, "
    "updated_at timestamptz NOT NULL DEFAULT now(), "
    "PRIMARY KEY (consumer_group, topic, kafka_partition))";

// Messages PostgreSQL would refuse, with the reason.
inline constexpr char kCreateDeadLettersTable[] =
    "CREATE TABLE IF NOT EXISTS sluice_dead_letters (id bigserial PRIMARY KEY, "
    "consumer_group text NOT NULL, topic text NOT NULL, kafka_partition integer NOT NULL, "
    "kafka_offset bigint NOT NULL, kafka_key bytea, payload bytea, error text NOT NULL, "
    "sqlstate text, failed_at timestamptz NOT NULL DEFAULT now(), "
    "UNIQUE (consumer_group, topic, kafka_partition, kafka_offset))";

// What became of a dead letter: 'pending', 'replayed' or 'discarded', when and by
// whom (sluicectl deadletters); and what a replay needs besides the key and the
// payload: the message's Kafka timestamp, its headers (common/kafka_headers.h; kept
// when the pipeline reads headers) and the rollout path it was on ('kafka' or
// 'legacy'; NULL when no path could be decided, or for rows written before the
// column existed). Added to tables created before them, only when
// kDeadLetterColumnsMissing says so: ALTER TABLE takes an exclusive lock even when
// the columns exist, which would queue every start behind the writers.
inline constexpr char kDeadLetterColumnsMissing[] =
    "SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
    "'sluice_dead_letters'::regclass AND attname = 'rollout_path' AND NOT attisdropped)";
inline constexpr char kAddDeadLetterColumns[] =
    "ALTER TABLE sluice_dead_letters ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT "
    "'pending', ADD COLUMN IF NOT EXISTS handled_at timestamptz, ADD COLUMN IF NOT EXISTS "
    "handled_by text, ADD COLUMN IF NOT EXISTS kafka_timestamp timestamptz, ADD COLUMN IF NOT "
    "EXISTS headers bytea, ADD COLUMN IF NOT EXISTS rollout_path text";

// For the controller's counts of each pipeline's dead letters by state (run with
// kAddDeadLetterColumns).
inline constexpr char kCreateDeadLetterStateIndex[] =
    "CREATE INDEX IF NOT EXISTS sluice_dead_letters_by_state ON sluice_dead_letters "
    "(consumer_group, state)";

// Serialises DDL of concurrent starters (CREATE ... IF NOT EXISTS races on the catalog).
inline constexpr char kSchemaLock[] = "SELECT pg_advisory_xact_lock(7400001)";

}  // namespace sluice

#endif  // SLUICE_COMMON_SLUICE_SCHEMA_H_
