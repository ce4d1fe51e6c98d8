#include "worker/worker_options.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/admin_limits.h"
#include "common/arg_parser.h"
#include "common/batch_limits.h"
#include "common/column_flag.h"
#include "common/column_mapping.h"
#include "common/host_port.h"
#include "common/identifiers.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "worker/kafka_properties.h"

namespace sluice::worker {

absl::StatusOr<WorkerOptions> ParseWorkerOptions(int argc, const char* const* argv,
                                                 const EnvLookup& env) {
  WorkerOptions o;
  std::string topics, payload_format = "json", password_file, password_flag, token_file,
      properties_file;
  int64_t db_port = 5432, max_rows = 10000, max_bytes = 16 << 20, writers = kDefaultWriters;
  std::vector<std::string> properties, columns;
  std::string write_mode, key_columns, bad_rows;

  ArgParser p("sluice-worker");
  p.AddString("kafka-brokers", &o.kafka.brokers, "Kafka bootstrap servers, HOST:PORT[,...]");
  p.AddString("kafka-topics", &topics, "topics to consume, T1[,T2...]");
  p.AddString("kafka-group", &o.kafka.group_id, "Kafka consumer group");
  p.AddRepeated("kafka-property", &properties, "librdkafka property key=value (repeatable)");
  p.AddString("kafka-properties-file", &properties_file,
              "file of librdkafka properties, key=value per line: broker TLS and SASL, where "
              "secrets (sasl.password, ssl.key.password, ...) must go");
  p.AddString("db-host", &o.postgres.connection.host, "PostgreSQL host (default localhost)");
  p.AddInt("db-port", &db_port, "PostgreSQL port (default 5432)");
  p.AddString("db-user", &o.postgres.connection.user, "PostgreSQL user");
  p.AddString("db-name", &o.postgres.connection.dbname, "PostgreSQL database");
  p.AddString("db-password-file", &password_file,
              "file holding the PostgreSQL password (or set PGPASSWORD)");
  p.AddString("db-password", &password_flag,
              "PostgreSQL password; visible to other users in ps, prefer the file");
  p.AddString("table", &o.postgres.table, "target table (default raw_items)");
  p.AddBool("create-table", &o.postgres.create_table, "create the target table if missing");
  p.AddString("payload-format", &payload_format, "json (jsonb), text or bytes (bytea)");
  p.AddRepeated("column", &columns,
                "a column of --table and its source, NAME=SOURCE[:TYPE] (repeatable; README "
                "\"Your table\")");
  p.AddString("write-mode", &write_mode, "insert (default) or upsert");
  p.AddString("key-columns", &key_columns, "upsert: the key columns, A[,B]");
  p.AddBool("delete-on-tombstone", &o.postgres.delete_on_tombstone,
            "upsert: a null payload deletes its key's row");
  p.AddString("bad-rows", &bad_rows, "all (default), none, or rate:R[/WINDOW]");
  p.AddSeconds("consumer-timeout", &o.loop.limits.consumer_timeout,
               "how soon after its Kafka timestamp a message should be committed, seconds "
               "(default 0.15)");
  p.AddSeconds("freshness-target", &o.loop.limits.freshness_target,
               "keep the p99 freshness (Kafka timestamp to commit) under this by tuning the "
               "consumer timeout (0, the default: a fixed --consumer-timeout)");
  p.AddInt("batch-max-rows", &max_rows, "rows per batch (default 10000)");
  p.AddBytes("batch-max-bytes", &max_bytes, "payload bytes per batch (default 16MiB)");
  p.AddInt("writers", &writers,
           "PostgreSQL connections writing batches, each for its share of the partitions, "
           "while the next batches fill (default 2, at most 16)");
  p.AddSeconds("shutdown-timeout", &o.loop.shutdown_timeout,
               "how long the last batch may retry after SIGTERM (default 15s)");
  p.AddSeconds("unready-after", &o.loop.unready_after,
               "how long transient errors may last before /ready reports them (default 30s)");
  p.AddString("metrics-address", &o.metrics_address,
              "HOST:PORT serving /metrics, /healthz, /ready (default 0.0.0.0:9187)");
  p.AddString("pipeline-name", &o.pipeline_name, "name in metrics (default: the group)");
  p.AddString("version-label", &o.version_label,
              "version reported in sluice_build_info and to the controller");
  p.AddString("controller", &o.controller.address,
              "HOST:PORT of sluice-controller: take pipelines from it instead of flags; "
              "several replicas' addresses separated by commas (the worker follows the "
              "leader among them)");
  p.AddString("controller-token-file", &token_file,
              "file holding this worker's controller token (or set SLUICE_TOKEN)");
  p.AddString("tls-ca", &o.controller.tls_ca_file,
              "PEM CA that signed the controller's certificate: connect with TLS");
  p.AddString("tls-cert", &o.controller.tls_cert_file,
              "PEM client certificate for the controller (mutual TLS)");
  p.AddString("tls-key", &o.controller.tls_key_file, "PEM private key of --tls-cert");
  p.AddBool("allow-plaintext-token", &o.controller.allow_plaintext_token,
            "send the controller token without TLS to a controller beyond this machine");
  p.AddString("worker-id", &o.worker_id,
              "identity towards the controller (default: HOST-PORT, PORT of --metrics-address)");
  p.AddSeconds("nack-retry-interval", &o.nack_retry_interval,
               "how often a refused (NACKed) assignment is tried again (default 10s)");
  RETURN_IF_ERROR(p.Parse(argc, argv));
  o.usage = p.Usage();
  if (p.help_requested()) {
    o.help = true;
    return o;
  }

  auto required = [&](const char* name, const std::string& value) -> absl::Status {
    if (value.empty()) return absl::InvalidArgumentError(absl::StrCat("--", name, " is required"));
    return absl::OkStatus();
  };
  // The controller refuses a longer id (admin requests name workers within it).
  RETURN_IF_ERROR(CheckMaxBytes("--worker-id", o.worker_id, kMaxWorkerIdBytes));
  RETURN_IF_ERROR(required("kafka-brokers", o.kafka.brokers));
  RETURN_IF_ERROR(required("db-name", o.postgres.connection.dbname));
  // README: "--db-user" has no default (libpq would take the OS user, rarely the role meant).
  RETURN_IF_ERROR(required("db-user", o.postgres.connection.user));
  if (!o.controller.address.empty()) {
    // The pipeline comes from the controller; flags that define one would be ignored.
    for (const char* flag : {"kafka-topics", "kafka-group", "table", "create-table",
                             "payload-format", "consumer-timeout", "freshness-target",
                             "batch-max-rows", "batch-max-bytes", "pipeline-name"}) {
      if (p.WasSet(flag)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--", flag, " cannot be combined with --controller (pipelines come from the "
            "controller)"));
      }
    }
  } else {
    RETURN_IF_ERROR(required("kafka-topics", topics));
    RETURN_IF_ERROR(required("kafka-group", o.kafka.group_id));
  }

  for (absl::string_view t : absl::StrSplit(topics, ',', absl::SkipWhitespace())) {
    o.loop.topics.emplace_back(absl::StripAsciiWhitespace(t));
  }
  if (o.loop.topics.empty() && o.controller.address.empty()) {
    return absl::InvalidArgumentError("--kafka-topics is empty");
  }
  for (const std::string& t : o.loop.topics) {
    // librdkafka would take "^x" as a regex subscription.
    if (absl::Status s = CheckTopicName(t); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--kafka-topics: ", s.message()));
    }
  }
  if (!properties_file.empty()) {
    absl::StatusOr<std::map<std::string, std::string>> from_file =
        ReadKafkaPropertiesFile(properties_file);
    if (!from_file.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--kafka-properties-file: ", from_file.status().message()));
    }
    o.kafka.properties = *from_file;
  }
  for (const std::string& prop : properties) {
    std::pair<std::string, std::string> kv = absl::StrSplit(prop, absl::MaxSplits('=', 1));
    if (kv.first.empty() || prop.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--kafka-property: '", prop, "' is not key=value"));
    }
    if (IsSecretKafkaProperty(kv.first)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--kafka-property: ", kv.first,
          " is a secret and would be visible in ps; put it in --kafka-properties-file",
          kv.first == "sasl.password" ? " or SLUICE_KAFKA_SASL_PASSWORD" : ""));
    }
    o.kafka.properties[kv.first] = kv.second;
  }
  if (o.kafka.properties.count("sasl.password") == 0) {
    if (std::optional<std::string> pw = env("SLUICE_KAFKA_SASL_PASSWORD")) {
      o.kafka.properties["sasl.password"] = *pw;
    }
  }
  if (absl::Status s = CheckKafkaProperties(o.kafka.properties); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--kafka-property: ", s.message()));
  }
  if (absl::Status s = CheckHostPort(o.metrics_address); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics-address: ", s.message()));
  }
  if (db_port < 1 || db_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--db-port: ", db_port, " is not a port"));
  }
  o.postgres.connection.port = static_cast<int>(db_port);
  if (max_rows < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--batch-max-rows: must be at least 1"));
  }
  if (max_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--batch-max-bytes: must be at least 1"));
  }
  if (max_rows > kMaxBatchRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch-max-rows: must be at most ", kMaxBatchRows));
  }
  if (max_bytes > kMaxBatchBytes) {
    return absl::InvalidArgumentError("--batch-max-bytes: must be at most 1GiB");
  }
  if (writers < 1 || writers > kMaxWriters) {
    return absl::InvalidArgumentError(
        absl::StrCat("--writers: must be between 1 and ", kMaxWriters));
  }
  o.writers = static_cast<int>(writers);
  o.loop.limits.max_rows = max_rows;
  o.loop.limits.max_bytes = max_bytes;
  // Zero is allowed where it means "do not wait" (shutdown); nowhere is a wait
  // beyond an hour anything but a typo ("1e300").
  struct Wait {
    const char* flag;
    absl::Duration value;
    bool zero_ok;
  };
  for (const Wait& w : {Wait{"consumer-timeout", o.loop.limits.consumer_timeout, false},
                        Wait{"freshness-target", o.loop.limits.freshness_target, true},
                        Wait{"shutdown-timeout", o.loop.shutdown_timeout, true},
                        Wait{"unready-after", o.loop.unready_after, true},
                        Wait{"nack-retry-interval", o.nack_retry_interval, false}}) {
    if (!w.zero_ok && w.value <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("--", w.flag, ": must be greater than 0"));
    }
    if (w.value > kMaxConsumerTimeout) {
      return absl::InvalidArgumentError(absl::StrCat("--", w.flag, ": must be at most 1h"));
    }
  }
  if (o.loop.limits.freshness_target > absl::ZeroDuration() &&
      o.loop.limits.freshness_target < absl::Milliseconds(100)) {
    return absl::InvalidArgumentError("--freshness-target: must be 0 or at least 100ms");
  }

  if (payload_format == "json") {
    o.postgres.payload_format = ::sluice::v1::PAYLOAD_FORMAT_JSON;
  } else if (payload_format == "text") {
    o.postgres.payload_format = ::sluice::v1::PAYLOAD_FORMAT_TEXT;
  } else if (payload_format == "bytes") {
    o.postgres.payload_format = ::sluice::v1::PAYLOAD_FORMAT_BYTES;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--payload-format: '", payload_format, "' is not json, text or bytes"));
  }
  if (absl::Status s = CheckTableName(o.postgres.table); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--table: ", s.message()));
  }
  // The mapping flags, checked by the controller's rules for a pipeline.
  v1::PipelineConfig mapped;
  for (const std::string& flag : columns) {
    if (std::string e = ParseColumnFlag(flag, mapped.add_columns()); !e.empty()) {
      return absl::InvalidArgumentError(e);
    }
  }
  if (write_mode == "upsert") {
    mapped.set_write_mode(v1::WRITE_MODE_UPSERT);
  } else if (!write_mode.empty() && write_mode != "insert") {
    return absl::InvalidArgumentError(
        absl::StrCat("--write-mode: '", write_mode, "' is not insert or upsert"));
  }
  for (absl::string_view k : absl::StrSplit(key_columns, ',', absl::SkipWhitespace())) {
    mapped.add_key_columns(std::string(k));
  }
  mapped.set_delete_on_tombstone(o.postgres.delete_on_tombstone);
  if (absl::Status s = CheckColumnMappings(mapped.columns()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--column: ", s.message()));
  }
  if (absl::Status s = CheckWriteMode(mapped); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--write-mode: ", s.message()));
  }
  o.postgres.columns = mapped.columns();
  o.postgres.write_mode =
      mapped.write_mode() == v1::WRITE_MODE_UPSERT ? v1::WRITE_MODE_UPSERT : v1::WRITE_MODE_INSERT;
  o.postgres.key_columns.assign(mapped.key_columns().begin(), mapped.key_columns().end());
  for (const v1::ColumnMapping& c : mapped.columns()) {
    o.kafka.read_headers |= c.source() == v1::COLUMN_SOURCE_HEADER;
  }
  if (!bad_rows.empty()) {
    v1::BadRowTolerance t;
    if (std::string e = ParseBadRowsFlag(bad_rows, &t); !e.empty()) {
      return absl::InvalidArgumentError(e);
    }
    if (t.mode() == v1::BadRowTolerance::MODE_RATE) {
      if (!(t.max_rate() > 0 && t.max_rate() <= 1)) {
        return absl::InvalidArgumentError(
            "--bad-rows: the rate must be greater than 0 and at most 1");
      }
      o.loop.max_dead_letter_rate = t.max_rate();
      if (t.has_window()) {
        o.loop.dead_letter_window =
            absl::Seconds(t.window().seconds()) + absl::Nanoseconds(t.window().nanos());
      }
    }
    o.postgres.refuse_bad_rows = t.mode() == v1::BadRowTolerance::MODE_NONE;
  }

  if (!password_file.empty()) {
    absl::StatusOr<std::string> password = ReadSecretFile(password_file);
    if (!password.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--db-password-file: ", password.status().message()));
    }
    o.postgres.connection.password = *password;
  } else if (!password_flag.empty()) {
    o.postgres.connection.password = password_flag;
    o.warnings.push_back(
        "--db-password is visible to other users of this machine (ps, /proc); "
        "use --db-password-file or PGPASSWORD");
  } else if (std::optional<std::string> pw = env("PGPASSWORD")) {
    o.postgres.connection.password = *pw;
  }

  if (o.controller.address.empty()) {
    for (const char* flag : {"controller-token-file", "tls-ca", "tls-cert", "tls-key", "worker-id",
                             "allow-plaintext-token"}) {
      if (p.WasSet(flag)) {
        return absl::InvalidArgumentError(absl::StrCat("--", flag, " needs --controller"));
      }
    }
  } else {
    ASSIGN_OR_RETURN(o.controller.token,
                     ReadClientToken(token_file, "--controller-token-file", env("SLUICE_TOKEN")));
    RETURN_IF_ERROR(CheckControllerConnection(o.controller));
  }

  o.postgres.consumer_group = o.kafka.group_id;
  if (o.pipeline_name.empty()) o.pipeline_name = o.kafka.group_id;
  return o;
}

absl::StatusOr<std::string> DefaultWorkerId(const std::string& host,
                                            const std::string& metrics_address) {
  const size_t colon = metrics_address.rfind(':');
  const std::string port =
      colon == std::string::npos ? "" : metrics_address.substr(colon + 1);
  if (port.empty() || port == "0") {
    return absl::InvalidArgumentError(
        "--worker-id is required when --metrics-address has port 0 (the default id, "
        "HOST-PORT, must stay the same across restarts)");
  }
  // The host's first label (a fully qualified name shares its long tail with its
  // neighbours); when still too long, its head and a hash of the whole name.
  const std::string label = host.substr(0, host.find('.'));
  std::string id = absl::StrCat(label, "-", port);
  if (id.size() > kMaxWorkerIdBytes) {
    const std::string tail =
        absl::StrCat("-", absl::Hex(std::hash<std::string>()(host) & 0xffffffff), "-", port);
    id = absl::StrCat(label.substr(0, kMaxWorkerIdBytes - tail.size()), tail);
  }
  return id;
}

}  // namespace sluice::worker
