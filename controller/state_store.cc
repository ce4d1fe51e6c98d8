#include "controller/state_store.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/dead_letter_state.h"
#include "common/kafka_headers.h"
#include "common/sluice_schema.h"
#include "common/status_macros.h"

namespace sluice::controller {
namespace {

// Marks every schedule change of every stored flag KIND_UNKNOWN (defined below).
void MarkLegacyChangeKinds(pqxx::work& tx);
// The stored pipelines and flags by name, and the state's revision (defined
// below); the lists and LoadState read them the same way.
std::vector<v1::Pipeline> ReadPipelines(pqxx::work& tx);
std::vector<v1::Flag> ReadFlags(pqxx::work& tx);
uint64_t ReadRevision(pqxx::work& tx);

using google::protobuf::util::TimeUtil;

// Raised inside a transaction body to return a specific status.
struct StatusError {
  absl::Status status;
};

const Clock& DefaultClock() {
  static const RealClock* const clock = new RealClock();
  return *clock;
}

v1::Pipeline PipelineFromRow(const pqxx::row& row) {
  // Columns: name, version, paused, config, created_at (epoch us), updated_at (epoch us).
  v1::Pipeline p;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(row[3].as<std::string>(), p.mutable_config(),
                                                   options)
           .ok()) {
    throw StatusError{absl::InternalError(
        absl::StrCat("stored config of pipeline ", row[0].as<std::string>(), " is unreadable"))};
  }
  p.set_version(row[1].as<uint64_t>());
  p.set_paused(row[2].as<bool>());
  *p.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(row[4].as<int64_t>());
  *p.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(row[5].as<int64_t>());
  return p;
}

constexpr char kSelectPipeline[] =
    "SELECT name, version, paused, config::text, "
    "(extract(epoch FROM created_at) * 1000000)::bigint, "
    "(extract(epoch FROM updated_at) * 1000000)::bigint FROM sluice_controller.pipelines";

std::string PipelineJson(const v1::Pipeline& p) {
  return absl::StrCat("{\"version\":", p.version(), ",\"paused\":", p.paused() ? "true" : "false",
                      ",\"config\":", ConfigToJson(p.config()), "}");
}

}  // namespace

std::string ConfigToJson(const v1::PipelineConfig& config) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(config, &out, options);
  return out;
}

struct StateStore::Db {
  explicit Db(const std::string& conninfo) : conn(conninfo) {}
  pqxx::connection conn;
};

StateStore::StateStore(StoreOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : DefaultClock()) {}
StateStore::~StateStore() = default;

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const StoreOptions& options) {
  std::unique_ptr<StateStore> store(new StateStore(options));
  RETURN_IF_ERROR(store->Transact([](pqxx::work& tx) {
    tx.exec(kSchemaLock);
    tx.exec("CREATE SCHEMA IF NOT EXISTS sluice_controller");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS sluice_controller.pipelines (name text PRIMARY KEY, "
        "version bigint NOT NULL, paused boolean NOT NULL DEFAULT false, config jsonb NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now(), "
        "updated_at timestamptz NOT NULL DEFAULT now())");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS sluice_controller.pipeline_history (name text NOT NULL, "
        "version bigint NOT NULL, paused boolean NOT NULL, config jsonb, deleted boolean NOT "
        "NULL DEFAULT false, changed_at timestamptz NOT NULL DEFAULT now(), actor text, "
        "PRIMARY KEY (name, version))");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS sluice_controller.audit (id bigserial PRIMARY KEY, "
        "at timestamptz NOT NULL DEFAULT now(), actor text NOT NULL, action text NOT NULL, "
        "target text NOT NULL, old_value text NOT NULL, new_value text NOT NULL)");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS sluice_controller.flags (name text PRIMARY KEY, "
        "version bigint NOT NULL, flag jsonb NOT NULL, "
        "updated_at timestamptz NOT NULL DEFAULT now())");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS sluice_controller.flag_history (name text NOT NULL, "
        "version bigint NOT NULL, flag jsonb NOT NULL, actor text NOT NULL, "
        "changed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (name, version))");
    // One row, bumped by every write transaction (with its audit entry): a
    // snapshot carries the revision it was read at, so a reload never applies an
    // older state over a newer one, and a poll sees whether anything changed.
    // The row lock also orders writers of several controllers.
    // The first start of a controller that records change kinds: the flags stored
    // before have rollbacks recorded as sets, which a rollback must not replay as
    // sets (it would go forward). They are marked unknown, once.
    if (tx.exec("SELECT to_regclass('sluice_controller.state_revision') IS NULL")[0][0]
            .as<bool>()) {
      MarkLegacyChangeKinds(tx);
    }
    tx.exec(
        "CREATE TABLE IF NOT EXISTS sluice_controller.state_revision (id int PRIMARY KEY "
        "CHECK (id = 1), revision bigint NOT NULL)");
    tx.exec(
        "INSERT INTO sluice_controller.state_revision VALUES (1, 0) ON CONFLICT (id) DO NOTHING");
    // The workers known across restarts (controller/worker_registry.h). Not part
    // of the state revision: the fleet changes them, not admin writes.
    tx.exec(
        "CREATE TABLE IF NOT EXISTS sluice_controller.workers (worker_id text PRIMARY KEY, "
        "owner text NOT NULL, draining boolean NOT NULL, hello bytea NOT NULL, "
        "updated_at timestamptz NOT NULL DEFAULT now())");
    // Who leads (controller/leader_election.h): written by the replica that took
    // the leader lock, from the lock's session (pid), so a row whose session is
    // gone names nobody.
    tx.exec(
        "CREATE TABLE IF NOT EXISTS sluice_controller.leader (id int PRIMARY KEY CHECK (id = 1), "
        "address text NOT NULL, pid integer NOT NULL, since timestamptz NOT NULL)");
    // The stats' 1 min rollups (controller/stats_rollup_store.h), kept by the
    // leader for the next one.
    tx.exec(
        "CREATE TABLE IF NOT EXISTS sluice_controller.stats_minutes (minute timestamptz NOT "
        "NULL, worker text NOT NULL, pipeline text NOT NULL, version text NOT NULL, "
        "rows bigint NOT NULL, bytes bigint NOT NULL, dead_letters bigint NOT NULL, "
        "retries bigint NOT NULL, batches bigint NOT NULL, kafka_path_items bigint NOT NULL, "
        "legacy_path_items bigint NOT NULL, write_latency_p99_ms double precision NOT NULL, "
        "freshness_p99_ms double precision NOT NULL, kafka_items bigint NOT NULL, "
        "kafka_dead_letters bigint NOT NULL, kafka_write_latency_p99_ms double precision NOT "
        "NULL, kafka_freshness_p99_ms double precision NOT NULL, legacy_items bigint NOT NULL, "
        "legacy_dead_letters bigint NOT NULL, legacy_write_latency_p99_ms double precision NOT "
        "NULL, legacy_freshness_p99_ms double precision NOT NULL, "
        "PRIMARY KEY (minute, worker, pipeline, version))");
    tx.exec(kCreateOffsetsTable);
    tx.exec(kCreateDeadLettersTable);
    if (tx.exec(kDeadLetterColumnsMissing)[0][0].as<bool>()) {
      tx.exec(kAddDeadLetterColumns);
      tx.exec(kCreateDeadLetterStateIndex);
    }
  }));
  return store;
}

std::unique_ptr<StateStore::Db> StateStore::Acquire() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](StateStore* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return !self->idle_.empty() || self->open_ < kPoolSize;
      },
      this));
  if (!idle_.empty()) {
    std::unique_ptr<Db> db = std::move(idle_.back());
    idle_.pop_back();
    return db;
  }
  ++open_;
  return nullptr;  // a slot: the caller connects
}

void StateStore::Release(std::unique_ptr<Db> db) {
  absl::MutexLock lock(&mu_);
  if (db) {
    idle_.push_back(std::move(db));
  } else {
    --open_;  // broken or never connected: the slot is free again
  }
}

template <typename Body>
absl::Status StateStore::Transact(Body body) {
  return RunIn<pqxx::work>(std::move(body));
}

template <typename Tx, typename Body>
absl::Status StateStore::RunIn(Body body) {
  std::unique_ptr<Db> db = Acquire();
  // Back into the pool (or its slot freed) however this ends.
  struct Return {
    StateStore* store;
    std::unique_ptr<Db>* db;
    ~Return() { store->Release(std::move(*db)); }
  } give_back{this, &db};
  for (int attempt = 0;; ++attempt) {
    try {
      if (!db || !db->conn.is_open()) {
        db = std::make_unique<Db>(options_.connection_string);
        // Bounded: a slow query or a held lock must not stall admin calls, ramp
        // ticks and state polls behind it (they fail UNAVAILABLE and are retried).
        // A connection whose setup failed is dropped, never pooled unbounded.
        try {
          pqxx::nontransaction setup(db->conn);
          setup.exec(
              absl::StrCat("SET statement_timeout = ", absl::ToInt64Milliseconds(kStatementTimeout),
                           "; SET lock_timeout = ", absl::ToInt64Milliseconds(kLockTimeout),
                           "; SET idle_in_transaction_session_timeout = ",
                           absl::ToInt64Milliseconds(kIdleInTransactionTimeout)));
        } catch (...) {
          db.reset();
          throw;
        }
      }
      Tx tx(db->conn);
      body(tx);
      tx.commit();
      return absl::OkStatus();
    } catch (const StatusError& e) {
      return e.status;
    } catch (const pqxx::broken_connection& e) {
      db.reset();
      if (attempt == 0) continue;
      return absl::UnavailableError(absl::StrCat("controller database: ", e.what()));
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() == "40001" || e.sqlstate() == "40P01") {
        if (attempt < 3) continue;
        return absl::UnavailableError(absl::StrCat("controller database: ", e.what()));
      }
      // A statement past statement_timeout (57014) or a lock past lock_timeout
      // (55P03): transient, the caller may retry.
      if (e.sqlstate() == "57014" || e.sqlstate() == "55P03") {
        return absl::UnavailableError(absl::StrCat("controller database: ", e.what()));
      }
      return absl::InternalError(absl::StrCat("controller database: ", e.what()));
    } catch (const std::exception& e) {
      db.reset();
      return absl::UnavailableError(absl::StrCat("controller database: ", e.what()));
    }
  }
}

absl::StatusOr<std::vector<v1::Pipeline>> StateStore::ListPipelines() {
  std::vector<v1::Pipeline> out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) { out = ReadPipelines(tx); }));
  return out;
}

absl::StatusOr<v1::Pipeline> StateStore::GetPipeline(const std::string& name) {
  v1::Pipeline out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(absl::StrCat(kSelectPipeline, " WHERE name = $1"), name);
    if (r.empty()) throw StatusError{absl::NotFoundError(absl::StrCat("pipeline ", name, " not found"))};
    out = PipelineFromRow(r[0]);
  }));
  return out;
}

namespace {

// Reads the pipeline FOR UPDATE or throws NOT_FOUND.
v1::Pipeline LockPipeline(pqxx::work& tx, const std::string& name) {
  pqxx::result r =
      tx.exec_params(absl::StrCat(kSelectPipeline, " WHERE name = $1 FOR UPDATE"), name);
  if (r.empty()) {
    throw StatusError{absl::NotFoundError(absl::StrCat("pipeline ", name, " not found"))};
  }
  return PipelineFromRow(r[0]);
}

void CheckVersion(const v1::Pipeline& current, uint64_t expected_version) {
  if (current.version() != expected_version) {
    throw StatusError{absl::AbortedError(absl::StrCat(
        "pipeline ", current.config().name(), " is at version ", current.version(),
        ", not expected_version ", expected_version, "; read it again and retry"))};
  }
}

v1::Pipeline WriteVersion(pqxx::work& tx, const v1::PipelineConfig& config, uint64_t version,
                          bool paused, bool insert, const std::string& actor) {
  const std::string json = ConfigToJson(config);
  if (insert) {
    tx.exec_params(
        "INSERT INTO sluice_controller.pipelines (name, version, paused, config) "
        "VALUES ($1, $2, $3, $4::jsonb)",
        config.name(), version, paused, json);
  } else {
    tx.exec_params(
        "UPDATE sluice_controller.pipelines SET version = $2, paused = $3, config = $4::jsonb, "
        "updated_at = now() WHERE name = $1",
        config.name(), version, paused, json);
  }
  tx.exec_params(
      "INSERT INTO sluice_controller.pipeline_history (name, version, paused, config, actor) "
      "VALUES ($1, $2, $3, $4::jsonb, $5)",
      config.name(), version, paused, json, actor);
  return PipelineFromRow(
      tx.exec_params(absl::StrCat(kSelectPipeline, " WHERE name = $1"), config.name())[0]);
}

void AuditIn(pqxx::work& tx, const std::string& actor, const std::string& action,
             const std::string& target, const std::string& old_value,
             const std::string& new_value) {
  // Every write has its audit entry, so this is where the state's revision moves.
  tx.exec("UPDATE sluice_controller.state_revision SET revision = revision + 1 WHERE id = 1");
  tx.exec_params(
      "INSERT INTO sluice_controller.audit (actor, action, target, old_value, new_value) "
      "VALUES ($1, $2, $3, $4, $5)",
      actor, action, target, old_value, new_value);
}

}  // namespace

absl::StatusOr<v1::Pipeline> StateStore::CreatePipeline(const v1::PipelineConfig& config,
                                                        const std::string& actor) {
  v1::Pipeline out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(
        "SELECT 1 FROM sluice_controller.pipelines WHERE name = $1 FOR UPDATE", config.name());
    if (!r.empty()) {
      throw StatusError{
          absl::AlreadyExistsError(absl::StrCat("pipeline ", config.name(), " already exists"))};
    }
    // The consumer group keys the stored offsets: two pipelines sharing one would
    // split its partitions between them and fence each other's offsets.
    pqxx::result shared = tx.exec_params(
        "SELECT name FROM sluice_controller.pipelines WHERE config->>'consumer_group' = $1",
        config.consumer_group());
    if (!shared.empty()) {
      throw StatusError{absl::AlreadyExistsError(absl::StrCat(
          "consumer_group: '", config.consumer_group(), "' is already the group of pipeline ",
          shared[0][0].as<std::string>()))};
    }
    // A re-created pipeline continues the version numbers of its history.
    const uint64_t version =
        tx.exec_params("SELECT coalesce(max(version), 0) + 1 FROM "
                       "sluice_controller.pipeline_history WHERE name = $1",
                       config.name())[0][0]
            .as<uint64_t>();
    out = WriteVersion(tx, config, version, false, /*insert=*/true, actor);
    AuditIn(tx, actor, "pipeline.create", config.name(), "", PipelineJson(out));
  }));
  return out;
}

absl::StatusOr<v1::Pipeline> StateStore::UpdatePipeline(const v1::PipelineConfig& config,
                                                        uint64_t expected_version,
                                                        const std::string& actor) {
  v1::Pipeline out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    v1::Pipeline current = LockPipeline(tx, config.name());
    CheckVersion(current, expected_version);
    // The group keys the stored offsets: a new group would read the topics again
    // from the start into the same table.
    if (config.consumer_group() != current.config().consumer_group()) {
      throw StatusError{absl::InvalidArgumentError(absl::StrCat(
          "consumer_group: cannot change from ", current.config().consumer_group(),
          " (the stored offsets belong to it); create a new pipeline instead"))};
    }
    out = WriteVersion(tx, config, current.version() + 1, current.paused(), false, actor);
    AuditIn(tx, actor, "pipeline.update", config.name(), PipelineJson(current), PipelineJson(out));
  }));
  return out;
}

absl::Status StateStore::DeletePipeline(const std::string& name, uint64_t expected_version,
                                        const std::string& actor) {
  return Transact([&](pqxx::work& tx) {
    v1::Pipeline current = LockPipeline(tx, name);
    CheckVersion(current, expected_version);
    tx.exec_params("DELETE FROM sluice_controller.pipelines WHERE name = $1", name);
    tx.exec_params(
        "INSERT INTO sluice_controller.pipeline_history (name, version, paused, config, "
        "deleted, actor) VALUES ($1, $2, $3, NULL, true, $4)",
        name, current.version() + 1, current.paused(), actor);
    AuditIn(tx, actor, "pipeline.delete", name, PipelineJson(current), "");
  });
}

absl::StatusOr<v1::Pipeline> StateStore::SetPaused(const std::string& name, bool paused,
                                                   const std::string& actor) {
  v1::Pipeline out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    v1::Pipeline current = LockPipeline(tx, name);
    if (current.paused() == paused) {
      out = current;  // already so: no new version, no audit entry
      return;
    }
    out = WriteVersion(tx, current.config(), current.version() + 1, paused, false, actor);
    AuditIn(tx, actor, paused ? "pipeline.pause" : "pipeline.resume", name,
            PipelineJson(current), PipelineJson(out));
  }));
  return out;
}

absl::Status StateStore::Audit(const std::string& actor, const std::string& action,
                               const std::string& target, const std::string& old_value,
                               const std::string& new_value) {
  return Transact(
      [&](pqxx::work& tx) { AuditIn(tx, actor, action, target, old_value, new_value); });
}

absl::StatusOr<std::vector<v1::AuditEntry>> StateStore::ListAudit(int limit,
                                                                 const std::string& target) {
  std::vector<v1::AuditEntry> out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    out.clear();
    pqxx::result r = tx.exec_params(
        "SELECT id, (extract(epoch FROM at) * 1000000)::bigint, actor, action, target, "
        "old_value, new_value FROM sluice_controller.audit WHERE ($2 = '' OR target = $2) "
        "ORDER BY id DESC LIMIT $1",
        limit, target);
    for (const pqxx::row& row : r) {
      v1::AuditEntry e;
      e.set_id(row[0].as<int64_t>());
      *e.mutable_at() = TimeUtil::MicrosecondsToTimestamp(row[1].as<int64_t>());
      e.set_actor(row[2].as<std::string>());
      e.set_action(row[3].as<std::string>());
      e.set_target(row[4].as<std::string>());
      e.set_old_value(row[5].as<std::string>());
      e.set_new_value(row[6].as<std::string>());
      out.push_back(std::move(e));
    }
  }));
  return out;
}

namespace {

std::string FlagToJson(const v1::Flag& flag) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(flag, &out, options);
  return out;
}

v1::Flag FlagFromJson(const std::string& json) {
  v1::Flag f;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(json, &f, options).ok()) {
    throw StatusError{absl::InternalError("a stored flag is unreadable")};
  }
  return f;
}

std::vector<v1::Pipeline> ReadPipelines(pqxx::work& tx) {
  std::vector<v1::Pipeline> out;
  for (const pqxx::row& row : tx.exec(absl::StrCat(kSelectPipeline, " ORDER BY name"))) {
    out.push_back(PipelineFromRow(row));
  }
  return out;
}

std::vector<v1::Flag> ReadFlags(pqxx::work& tx) {
  std::vector<v1::Flag> out;
  for (const pqxx::row& row :
       tx.exec("SELECT flag::text FROM sluice_controller.flags ORDER BY name")) {
    out.push_back(FlagFromJson(row[0].as<std::string>()));
  }
  return out;
}

uint64_t ReadRevision(pqxx::work& tx) {
  return tx.exec("SELECT revision FROM sluice_controller.state_revision WHERE id = 1")[0][0]
      .as<uint64_t>();
}

void MarkLegacyChangeKinds(pqxx::work& tx) {
  for (const pqxx::row& row : tx.exec("SELECT name, flag::text FROM sluice_controller.flags")) {
    v1::Flag flag = FlagFromJson(row[1].as<std::string>());
    for (v1::PercentageChange& c : *flag.mutable_schedule()) {
      c.set_kind(v1::PercentageChange::KIND_UNKNOWN);
    }
    tx.exec_params("UPDATE sluice_controller.flags SET flag = $2::jsonb WHERE name = $1",
                   row[0].as<std::string>(), FlagToJson(flag));
  }
}

v1::Flag LockFlag(pqxx::work& tx, const std::string& name) {
  pqxx::result r = tx.exec_params(
      "SELECT flag::text FROM sluice_controller.flags WHERE name = $1 FOR UPDATE", name);
  if (r.empty()) throw StatusError{absl::NotFoundError(absl::StrCat("flag ", name, " not found"))};
  return FlagFromJson(r[0][0].as<std::string>());
}

void WriteFlag(pqxx::work& tx, const v1::Flag& flag, bool insert, const std::string& actor) {
  const std::string json = FlagToJson(flag);
  if (insert) {
    tx.exec_params(
        "INSERT INTO sluice_controller.flags (name, version, flag) VALUES ($1, $2, $3::jsonb)",
        flag.name(), flag.version(), json);
  } else {
    tx.exec_params(
        "UPDATE sluice_controller.flags SET version = $2, flag = $3::jsonb, updated_at = now() "
        "WHERE name = $1",
        flag.name(), flag.version(), json);
  }
  tx.exec_params(
      "INSERT INTO sluice_controller.flag_history (name, version, flag, actor) "
      "VALUES ($1, $2, $3::jsonb, $4)",
      flag.name(), flag.version(), json, actor);
}

}  // namespace

absl::StatusOr<StateSnapshot> StateStore::LoadState() {
  StateSnapshot out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    // One snapshot for the revision, the pipelines and the flags.
    tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    out.revision = ReadRevision(tx);
    out.pipelines = ReadPipelines(tx);
    out.flags = ReadFlags(tx);
  }));
  return out;
}

absl::Status StateStore::SaveWorkers(const std::vector<KnownWorker>& workers) {
  return Transact([&](pqxx::work& tx) {
    for (const KnownWorker& worker : workers) {
      const std::string hello = worker.hello.SerializeAsString();
      tx.exec_params(
          "INSERT INTO sluice_controller.workers (worker_id, owner, draining, hello) "
          "VALUES ($1, $2, $3, $4) ON CONFLICT (worker_id) DO UPDATE SET owner = "
          "EXCLUDED.owner, draining = EXCLUDED.draining, hello = EXCLUDED.hello, "
          "updated_at = now()",
          worker.hello.worker_id(), worker.owner, worker.draining,
          pqxx::binarystring(hello.data(), hello.size()));
    }
  });
}

absl::Status StateStore::ForgetWorkers(const std::vector<std::string>& worker_ids) {
  return Transact([&](pqxx::work& tx) {
    for (const std::string& id : worker_ids) {
      tx.exec_params("DELETE FROM sluice_controller.workers WHERE worker_id = $1", id);
    }
  });
}

absl::StatusOr<std::vector<KnownWorker>> StateStore::LoadWorkers() {
  std::vector<KnownWorker> out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    out.clear();
    for (const pqxx::row& row : tx.exec(
             "SELECT owner, draining, hello FROM sluice_controller.workers ORDER BY worker_id")) {
      KnownWorker w;
      w.owner = row[0].as<std::string>();
      w.draining = row[1].as<bool>();
      const pqxx::binarystring hello(row[2]);
      if (!w.hello.ParseFromArray(hello.data(), static_cast<int>(hello.size()))) continue;
      out.push_back(std::move(w));
    }
  }));
  return out;
}

namespace {

// The columns after (minute, worker, pipeline, version), in table order.
constexpr char kRollupCounterColumns[] =
    "rows, bytes, dead_letters, retries, batches, kafka_path_items, legacy_path_items, "
    "write_latency_p99_ms, freshness_p99_ms, kafka_items, kafka_dead_letters, "
    "kafka_write_latency_p99_ms, kafka_freshness_p99_ms, legacy_items, legacy_dead_letters, "
    "legacy_write_latency_p99_ms, legacy_freshness_p99_ms";

// One row of VALUES, every value quoted by the connection.
std::string RollupValues(pqxx::work& tx, const MinuteRollup& r) {
  const StatsCounters& c = r.counters;
  // bigint columns: counts beyond 2^63 are not reachable by summing reports.
  auto n = [](uint64_t v) { return std::to_string(static_cast<int64_t>(v)); };
  // Every digit a double holds (StrCat keeps 6).
  auto d = [](double v) {
    return std::isfinite(v) ? absl::StrFormat("%.17g", v) : std::string("0");
  };
  return absl::StrCat(
      "(to_timestamp(", absl::ToUnixSeconds(r.minute), "), ", tx.quote(r.worker), ", ",
      tx.quote(r.pipeline), ", ", tx.quote(r.version), ", ",
      absl::StrJoin({n(c.rows), n(c.bytes), n(c.dead_letters), n(c.retries), n(c.batches),
                     n(c.kafka_path_items), n(c.legacy_path_items), d(c.write_latency_p99_ms),
                     d(c.freshness_p99_ms), n(c.kafka.items), n(c.kafka.dead_letters),
                     d(c.kafka.write_latency_p99_ms), d(c.kafka.freshness_p99_ms),
                     n(c.legacy.items), n(c.legacy.dead_letters), d(c.legacy.write_latency_p99_ms),
                     d(c.legacy.freshness_p99_ms)},
                    ", "),
      ")");
}

}  // namespace

absl::Status StateStore::SaveStatsRollups(const std::vector<MinuteRollup>& rollups,
                                          absl::Time forget_before) {
  return Transact([&](pqxx::work& tx) {
    // A few hundred rows per statement: one round trip each, not one per row
    // (1,000 workers × 3 pipelines are 3,000 rows a minute).
    constexpr size_t kRowsPerStatement = 500;
    for (size_t from = 0; from < rollups.size(); from += kRowsPerStatement) {
      std::vector<std::string> values;
      for (size_t i = from; i < std::min(rollups.size(), from + kRowsPerStatement); ++i) {
        values.push_back(RollupValues(tx, rollups[i]));
      }
      std::string update;
      for (absl::string_view column : absl::StrSplit(kRollupCounterColumns, ", ")) {
        absl::StrAppend(&update, update.empty() ? "" : ", ", column, " = EXCLUDED.", column);
      }
      tx.exec(
          absl::StrCat("INSERT INTO sluice_controller.stats_minutes (minute, worker, "
                       "pipeline, version, ",
                       kRollupCounterColumns, ") VALUES ", absl::StrJoin(values, ", "),
                       " ON CONFLICT (minute, worker, pipeline, version) DO UPDATE SET ", update));
    }
    tx.exec_params("DELETE FROM sluice_controller.stats_minutes WHERE minute < to_timestamp($1)",
                   absl::ToUnixSeconds(forget_before));
  });
}

absl::StatusOr<std::vector<MinuteRollup>> StateStore::LoadStatsRollups(absl::Time since) {
  std::vector<MinuteRollup> out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    out.clear();
    for (const pqxx::row& row : tx.exec_params(
             absl::StrCat("SELECT extract(epoch FROM minute)::bigint, worker, pipeline, version, ",
                          kRollupCounterColumns,
                          " FROM sluice_controller.stats_minutes WHERE minute >= "
                          "to_timestamp($1)"),
             absl::ToUnixSeconds(since))) {
      MinuteRollup r;
      r.minute = absl::FromUnixSeconds(row[0].as<int64_t>());
      r.worker = row[1].as<std::string>();
      r.pipeline = row[2].as<std::string>();
      r.version = row[3].as<std::string>();
      StatsCounters& c = r.counters;
      int i = 4;
      auto n = [&] { return static_cast<uint64_t>(row[i++].as<int64_t>()); };
      auto d = [&] { return row[i++].as<double>(); };
      c.rows = n();
      c.bytes = n();
      c.dead_letters = n();
      c.retries = n();
      c.batches = n();
      c.kafka_path_items = n();
      c.legacy_path_items = n();
      c.write_latency_p99_ms = d();
      c.freshness_p99_ms = d();
      c.kafka.items = n();
      c.kafka.dead_letters = n();
      c.kafka.write_latency_p99_ms = d();
      c.kafka.freshness_p99_ms = d();
      c.legacy.items = n();
      c.legacy.dead_letters = n();
      c.legacy.write_latency_p99_ms = d();
      c.legacy.freshness_p99_ms = d();
      out.push_back(std::move(r));
    }
  }));
  return out;
}

absl::StatusOr<uint64_t> StateStore::Revision() {
  uint64_t out = 0;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) { out = ReadRevision(tx); }));
  return out;
}

absl::StatusOr<absl::Time> StateStore::ScheduleBarrier() {
  // Read before the lock is asked for: the barrier only needs a time no later than
  // when it held the lock. One statement in autocommit: the lock is held while the
  // server runs it, never while this process could be stopped between statements.
  const absl::Time at = clock_.Now();
  RETURN_IF_ERROR(RunIn<pqxx::nontransaction>([&](pqxx::nontransaction& tx) {
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kScheduleLockKey);
  }));
  return at;
}

absl::StatusOr<std::vector<v1::Flag>> StateStore::ListFlags() {
  std::vector<v1::Flag> out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) { out = ReadFlags(tx); }));
  return out;
}

absl::StatusOr<v1::Flag> StateStore::GetFlag(const std::string& name) {
  v1::Flag out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    pqxx::result r =
        tx.exec_params("SELECT flag::text FROM sluice_controller.flags WHERE name = $1", name);
    if (r.empty()) throw StatusError{absl::NotFoundError(absl::StrCat("flag ", name, " not found"))};
    out = FlagFromJson(r[0][0].as<std::string>());
  }));
  return out;
}

absl::StatusOr<v1::Flag> StateStore::CreateFlag(const v1::Flag& flag, const std::string& actor) {
  // A new flag is at 0% with no schedule: a change is made by UpdateFlag, under
  // the schedule lock (ScheduleBarrier counts on it).
  if (flag.schedule_size() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag ", flag.name(), ": a new flag starts without a schedule"));
  }
  v1::Flag out = flag;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(
        "SELECT 1 FROM sluice_controller.flags WHERE name = $1 FOR UPDATE", flag.name());
    if (!r.empty()) {
      throw StatusError{
          absl::AlreadyExistsError(absl::StrCat("flag ", flag.name(), " already exists"))};
    }
    out.set_version(1);
    WriteFlag(tx, out, /*insert=*/true, actor);
    AuditIn(tx, actor, "flag.create", flag.name(), "", FlagToJson(out));
  }));
  return out;
}

absl::StatusOr<v1::Flag> StateStore::UpdateFlag(const v1::Flag& flag, uint64_t expected_version,
                                                const std::string& action, const std::string& actor,
                                                absl::Time schedule_deadline) {
  v1::Flag out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    // Held until COMMIT: a ScheduleBarrier() waits for this write to be visible.
    tx.exec_params("SELECT pg_advisory_xact_lock_shared($1)", kScheduleLockKey);
    if (const absl::Time now = clock_.Now(); now > schedule_deadline) {
      throw StatusError{absl::AbortedError(absl::StrCat(
          "flag ", flag.name(), ": the write reached the database ",
          absl::FormatDuration(absl::Trunc(now - schedule_deadline, absl::Milliseconds(1))),
          " after its deadline (its schedule was computed from a time the workers may already "
          "route beyond); retry"))};
    }
    v1::Flag current = LockFlag(tx, flag.name());
    if (current.version() != expected_version) {
      throw StatusError{absl::AbortedError(absl::StrCat(
          "flag ", flag.name(), " is at version ", current.version(), ", not expected_version ",
          expected_version, "; read it again and retry"))};
    }
    out = current;
    *out.mutable_schedule() = flag.schedule();
    // Set by compaction; never unset again.
    if (flag.has_schedule_kept_since()) {
      *out.mutable_schedule_kept_since() = flag.schedule_kept_since();
    }
    *out.mutable_ramp() = flag.ramp();
    out.set_version(current.version() + 1);
    WriteFlag(tx, out, /*insert=*/false, actor);
    AuditIn(tx, actor, action, flag.name(), FlagToJson(current), FlagToJson(out));
  }));
  return out;
}

absl::StatusOr<std::vector<v1::PartitionOffset>> StateStore::GetOffsets(
    const std::string& consumer_group) {
  std::vector<v1::PartitionOffset> out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    out.clear();
    pqxx::result r = tx.exec_params(
        "SELECT topic, kafka_partition, next_offset, "
        "(extract(epoch FROM updated_at) * 1000000)::bigint FROM sluice_offsets "
        "WHERE consumer_group = $1 ORDER BY topic, kafka_partition",
        consumer_group);
    for (const pqxx::row& row : r) {
      v1::PartitionOffset o;
      o.set_topic(row[0].as<std::string>());
      o.set_partition(row[1].as<int32_t>());
      o.set_next_offset(row[2].as<int64_t>());
      *o.mutable_updated_at() = TimeUtil::MicrosecondsToTimestamp(row[3].as<int64_t>());
      out.push_back(std::move(o));
    }
  }));
  return out;
}

absl::Status StateStore::ResetOffsets(const std::string& pipeline, const std::string& topic,
                                      int32_t partition, std::optional<int64_t> next_offset,
                                      const std::string& actor) {
  return Transact([&](pqxx::work& tx) {
    v1::Pipeline current = LockPipeline(tx, pipeline);
    if (!current.paused()) {
      throw StatusError{absl::FailedPreconditionError(absl::StrCat(
          "pipeline ", pipeline, " is running; pause it before resetting its offsets"))};
    }
    const std::string& group = current.config().consumer_group();
    pqxx::result before = tx.exec_params(
        "SELECT coalesce(string_agg(kafka_partition || '=' || next_offset, ',' ORDER BY "
        "kafka_partition), '') FROM sluice_offsets WHERE consumer_group = $1 AND topic = $2 AND "
        "($3 < 0 OR kafka_partition = $3)",
        group, topic, partition);
    // A symbolic position (-2 earliest, -1 latest) is stored as such: the worker
    // that next assigns the partition resolves it. Deleting the row instead would
    // let the position fall back to wherever the consumer group stood in Kafka.
    if (!next_offset) {
      tx.exec_params(
          "DELETE FROM sluice_offsets WHERE consumer_group = $1 AND topic = $2 AND "
          "($3 < 0 OR kafka_partition = $3)",
          group, topic, partition);
    } else if (partition < 0) {
      tx.exec_params(
          "UPDATE sluice_offsets SET next_offset = $3, updated_at = now() WHERE "
          "consumer_group = $1 AND topic = $2",
          group, topic, *next_offset);
    } else {
      tx.exec_params(
          "INSERT INTO sluice_offsets (consumer_group, topic, kafka_partition, next_offset) "
          "VALUES ($1, $2, $3, $4) ON CONFLICT (consumer_group, topic, kafka_partition) DO "
          "UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
          group, topic, partition, *next_offset);
    }
    AuditIn(tx, actor, "offsets.reset", pipeline,
            absl::StrCat(topic, ":", before[0][0].as<std::string>()),
            absl::StrCat(topic, ":", partition < 0 ? "*" : std::to_string(partition), "=",
                         !next_offset          ? std::string("deleted")
                         : *next_offset == -2 ? std::string("earliest")
                         : *next_offset == -1 ? std::string("latest")
                                              : std::to_string(*next_offset)));
  });
}

namespace {

// The WHERE clause of a filter over $1 (the group) .. $5.
constexpr char kDeadLetterWhere[] =
    " WHERE consumer_group = $1 AND ($2::bigint = 0 OR id >= $2::bigint) AND ($3::bigint = 0 OR "
    "id <= $3::bigint) AND "
    "($4 = '' OR sqlstate = $4) AND ($5 = '' OR state = $5)";

// The columns every dead letter read takes, in DeadLetterFrom's order.
constexpr char kDeadLetterColumns[] =
    "SELECT id, topic, kafka_partition, kafka_offset, coalesce(octet_length(payload), 0), "
    "error, coalesce(sqlstate, ''), (extract(epoch FROM failed_at) * 1000000)::bigint, state, "
    "(extract(epoch FROM handled_at) * 1000000)::bigint, coalesce(handled_by, ''), "
    "(extract(epoch FROM kafka_timestamp) * 1000000)::bigint, coalesce(rollout_path, '')";

v1::DeadLetter DeadLetterFrom(const pqxx::row& row) {
  v1::DeadLetter d;
  d.set_id(row[0].as<int64_t>());
  d.set_topic(row[1].as<std::string>());
  d.set_partition(row[2].as<int32_t>());
  d.set_offset(row[3].as<int64_t>());
  d.set_payload_bytes(row[4].as<int64_t>());
  d.set_error(row[5].as<std::string>());
  d.set_sqlstate(row[6].as<std::string>());
  *d.mutable_failed_at() = TimeUtil::MicrosecondsToTimestamp(row[7].as<int64_t>());
  d.set_state(DeadLetterStateOf(row[8].as<std::string>()));
  if (!row[9].is_null()) {
    *d.mutable_handled_at() = TimeUtil::MicrosecondsToTimestamp(row[9].as<int64_t>());
  }
  d.set_handled_by(row[10].as<std::string>());
  if (!row[11].is_null()) {
    *d.mutable_timestamp() = TimeUtil::MicrosecondsToTimestamp(row[11].as<int64_t>());
  }
  d.set_path(row[12].as<std::string>());
  return d;
}

// How many of the selected dead letters are pending, replayed and discarded.
constexpr char kDeadLetterCounts[] =
    "count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'replayed'), "
    "count(*) FILTER (WHERE state = 'discarded')";

}  // namespace

absl::StatusOr<std::map<std::string, DeadLetterCounts>> StateStore::CountDeadLetters() {
  std::map<std::string, DeadLetterCounts> out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    out.clear();
    std::map<std::string, DeadLetterCounts> by_group;
    for (const pqxx::row& row :
         tx.exec(absl::StrCat("SELECT consumer_group, ", kDeadLetterCounts,
                              " FROM sluice_dead_letters GROUP BY consumer_group"))) {
      by_group[row[0].as<std::string>()] = {row[1].as<int64_t>(), row[2].as<int64_t>(),
                                            row[3].as<int64_t>()};
    }
    for (const v1::Pipeline& p : ReadPipelines(tx)) {
      auto counted = by_group.find(p.config().consumer_group());
      out[p.config().name()] = counted == by_group.end() ? DeadLetterCounts{} : counted->second;
    }
  }));
  return out;
}

absl::StatusOr<v1::ListDeadLettersResponse> StateStore::ListDeadLetters(
    const std::string& consumer_group, const v1::DeadLetterFilter& f, int limit) {
  v1::ListDeadLettersResponse out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    out.Clear();
    pqxx::result r = tx.exec_params(absl::StrCat(kDeadLetterColumns, " FROM sluice_dead_letters",
                                                 kDeadLetterWhere, " ORDER BY id DESC LIMIT $6"),
                                    consumer_group, f.from_id(), f.to_id(), f.sqlstate(),
                                    DeadLetterStateName(f.state()), limit);
    for (const pqxx::row& row : r) *out.add_dead_letters() = DeadLetterFrom(row);
    pqxx::result counts =
        tx.exec_params(absl::StrCat("SELECT ", kDeadLetterCounts,
                                    " FROM sluice_dead_letters WHERE consumer_group = $1"),
                       consumer_group);
    out.set_pending(counts[0][0].as<int64_t>());
    out.set_replayed(counts[0][1].as<int64_t>());
    out.set_discarded(counts[0][2].as<int64_t>());
  }));
  return out;
}

absl::StatusOr<v1::DeadLetter> StateStore::GetDeadLetter(const std::string& consumer_group,
                                                         int64_t id) {
  v1::DeadLetter out;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    pqxx::result r =
        tx.exec_params(absl::StrCat(kDeadLetterColumns,
                                    ", kafka_key, payload, headers FROM sluice_dead_letters WHERE "
                                    "consumer_group = $1 AND id = $2"),
                       consumer_group, id);
    if (r.empty()) {
      throw StatusError{absl::NotFoundError(absl::StrCat("dead letter ", id, " not found"))};
    }
    out = DeadLetterFrom(r[0]);
    if (!r[0][13].is_null()) {
      out.set_has_key(true);
      out.set_key(pqxx::binarystring(r[0][13]).str());
    }
    if (!r[0][14].is_null()) {
      out.set_has_payload(true);
      out.set_payload(pqxx::binarystring(r[0][14]).str());
    }
    if (!r[0][15].is_null()) {
      absl::StatusOr<KafkaHeaders> headers = DecodeKafkaHeaders(pqxx::binarystring(r[0][15]).str());
      // Written by a worker: unreadable means a newer format; show none.
      if (headers.ok()) {
        for (auto& [name, value] : *headers) {
          v1::DeadLetterHeader* h = out.add_headers();
          h->set_name(name);
          h->set_has_value(value.has_value());
          if (value) h->set_value(*value);
        }
      }
    }
  }));
  return out;
}

absl::StatusOr<int64_t> StateStore::DiscardDeadLetters(const std::string& pipeline,
                                                       const std::string& consumer_group,
                                                       const v1::DeadLetterFilter& f,
                                                       const std::string& actor) {
  int64_t discarded = 0;
  RETURN_IF_ERROR(Transact([&](pqxx::work& tx) {
    pqxx::result r = tx.exec_params(
        absl::StrCat("UPDATE sluice_dead_letters SET state = 'discarded', handled_at = now(), "
                     "handled_by = $6",
                     kDeadLetterWhere, " AND state = 'pending'"),
        consumer_group, f.from_id(), f.to_id(), f.sqlstate(), "pending", actor);
    discarded = static_cast<int64_t>(r.affected_rows());
    AuditIn(tx, actor, "deadletters.discard", pipeline,
            absl::StrCat("ids ", f.from_id() == 0 ? "*" : std::to_string(f.from_id()), "..",
                         f.to_id() == 0 ? "*" : std::to_string(f.to_id()),
                         f.sqlstate().empty() ? "" : absl::StrCat(" sqlstate ", f.sqlstate())),
            absl::StrCat(discarded, " discarded"));
  }));
  return discarded;
}

absl::Status StateStore::RecordAudit(const std::string& actor, const std::string& action,
                                     const std::string& target, const std::string& before,
                                     const std::string& after) {
  return Transact([&](pqxx::work& tx) { AuditIn(tx, actor, action, target, before, after); });
}

}  // namespace sluice::controller
