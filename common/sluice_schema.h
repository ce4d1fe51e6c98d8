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
// whom (sluicectl deadletters). Added to tables created before it, only when
// kDeadLetterStateMissing says so: ALTER TABLE takes an exclusive lock even when
// the columns exist, which would queue every start behind the writers.
inline constexpr char kDeadLetterStateMissing[] =
    "SELECT NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = "
    "'sluice_dead_letters'::regclass AND attname = 'handled_by' AND NOT attisdropped)";
inline constexpr char kAddDeadLetterState[] =
    "ALTER TABLE sluice_dead_letters ADD COLUMN IF NOT EXISTS state text NOT NULL DEFAULT "
    "'pending', ADD COLUMN IF NOT EXISTS handled_at timestamptz, ADD COLUMN IF NOT EXISTS "
    "handled_by text";

// Serialises DDL of concurrent starters (CREATE ... IF NOT EXISTS races on the catalog).
inline constexpr char kSchemaLock[] = "SELECT pg_advisory_xact_lock(7400001)";

}  // namespace sluice

#endif  // SLUICE_COMMON_SLUICE_SCHEMA_H_
