#include "worker/worker_options.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

std::optional<std::string> NoEnv(const std::string&) { return std::nullopt; }

absl::StatusOr<WorkerOptions> Parse(std::vector<std::string> args, const EnvLookup& env = NoEnv) {
  std::vector<const char*> argv = {"sluice-worker"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  return ParseWorkerOptions(static_cast<int>(argv.size()), argv.data(), env);
}

std::vector<std::string> Base() {
  return {"--kafka-brokers", "k:9092", "--kafka-topics", "a, b", "--kafka-group", "g",
          "--db-host",       "db",     "--db-user",      "u",    "--db-name",     "d"};
}

std::vector<std::string> With(std::vector<std::string> extra) {
  std::vector<std::string> args = Base();
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(WorkerOptionsTest, ParsesTheSeedCommandLine) {
  absl::StatusOr<WorkerOptions> o = Parse(With({"--consumer-timeout", "0.15", "--db-port", "6432",
                                                "--kafka-property", "fetch.wait.max.ms=50",
                                                "--payload-format", "text", "--batch-max-bytes",
                                                "4MiB", "--table", "ingest.events"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->kafka.brokers, "k:9092");
  EXPECT_EQ(o->loop.topics, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o->kafka.group_id, "g");
  EXPECT_EQ(o->postgres.consumer_group, "g");
  EXPECT_EQ(o->pipeline_name, "g");
  EXPECT_EQ(o->postgres.connection.host, "db");
  EXPECT_EQ(o->postgres.connection.port, 6432);
  EXPECT_EQ(o->loop.limits.consumer_timeout, absl::Milliseconds(150));
  EXPECT_EQ(o->loop.limits.max_rows, 10000);
  EXPECT_EQ(o->loop.limits.max_bytes, 4 << 20);
  EXPECT_EQ(o->kafka.properties.at("fetch.wait.max.ms"), "50");
  EXPECT_EQ(o->postgres.payload_format, ::sluice::v1::PAYLOAD_FORMAT_TEXT);
  EXPECT_EQ(o->postgres.table, "ingest.events");
  EXPECT_TRUE(o->warnings.empty());
}

TEST(WorkerOptionsTest, Defaults) {
  absl::StatusOr<WorkerOptions> o = Parse(Base());
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->postgres.table, "raw_items");
  EXPECT_EQ(o->postgres.payload_format, ::sluice::v1::PAYLOAD_FORMAT_JSON);
  EXPECT_EQ(o->loop.limits.max_bytes, 16 << 20);
  EXPECT_EQ(o->metrics_address, "0.0.0.0:9187");
  EXPECT_FALSE(o->postgres.create_table);
}

struct BadCase {
  std::vector<std::string> args;
  std::string message;
};

class WorkerOptionsErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(WorkerOptionsErrorTest, OneLineNamingTheFlag) {
  absl::StatusOr<WorkerOptions> o = Parse(GetParam().args);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(o.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Flags, WorkerOptionsErrorTest,
    ::testing::Values(
        BadCase{With({"--consumer-timeout", "-1"}), "--consumer-timeout: '-1' is negative"},
        BadCase{With({"--consumer-timeout", "0"}), "--consumer-timeout: must be greater than 0"},
        BadCase{With({"--consumer-timeout", "soon"}),
                "--consumer-timeout: 'soon' is not a duration (use seconds, e.g. 0.15, or "
                "150ms, 2s)"},
        BadCase{With({"--batch-max-rows", "0"}), "--batch-max-rows: must be at least 1"},
        BadCase{With({"--batch-max-rows", "many"}), "--batch-max-rows: 'many' is not an integer"},
        BadCase{With({"--batch-max-bytes", "16XB"}),
                "--batch-max-bytes: '16XB' is not a size (use bytes, or KiB/MiB/GiB, e.g. 16MiB)"},
        BadCase{With({"--db-port", "70000"}), "--db-port: 70000 is not a port"},
        BadCase{With({"--payload-format", "avro"}),
                "--payload-format: 'avro' is not json, text or bytes"},
        BadCase{With({"--table", "a.b.c"}), "--table: 'a.b.c' has more than one dot"},
        BadCase{With({"--table", "raw items"}),
                "--table: 'raw items' is not a table name (letters, digits, _)"},
        BadCase{With({"--kafka-property", "novalue"}),
                "--kafka-property: 'novalue' is not key=value"},
        BadCase{With({"--kafka-topics", " , "}), "--kafka-topics is empty"},
        // The controller refuses longer ids (common/admin_limits.h): say so at start.
        BadCase{With({"--worker-id", std::string(64, 'w')}),
                "--worker-id: must be at most 63 bytes (got 64)"},
        BadCase{With({"--no-such-flag"}), "unknown flag --no-such-flag"},
        BadCase{With({"--db-name"}), "--db-name needs a value"},
        BadCase{With({"stray"}), "unexpected argument 'stray'"},
        BadCase{With({"--db-password-file", "/nonexistent/pw"}),
                "--db-password-file: cannot read /nonexistent/pw"},
        BadCase{{"--kafka-topics", "a", "--kafka-group", "g", "--db-name", "d"},
                "--kafka-brokers is required"},
        BadCase{{"--kafka-brokers", "k", "--kafka-group", "g", "--db-user", "u", "--db-name", "d"},
                "--kafka-topics is required"},
        BadCase{{"--kafka-brokers", "k", "--kafka-topics", "a", "--db-user", "u", "--db-name", "d"},
                "--kafka-group is required"},
        BadCase{{"--kafka-brokers", "k", "--kafka-topics", "a", "--kafka-group", "g"},
                "--db-name is required"},
        // Issue 7 item 15: librdkafka's refusals come before connecting, not after.
        BadCase{With({"--kafka-property", "no.such.property=1"}),
                "--kafka-property: No such configuration property: \"no.such.property\""},
        BadCase{With({"--kafka-property", "fetch.wait.max.ms=soon"}),
                "--kafka-property: Invalid value for configuration property "
                "\"fetch.wait.max.ms\""},
        BadCase{With({"--kafka-property", "auto.offset.reset=sideways"}),
                "--kafka-property: Invalid value \"sideways\" for configuration property "
                "\"auto.offset.reset\""},
        BadCase{With({"--metrics-address", "9187"}),
                "--metrics-address: '9187' is not HOST:PORT"},
        BadCase{With({"--metrics-address", "0.0.0.0:"}),
                "--metrics-address: '0.0.0.0:' is not HOST:PORT"},
        BadCase{With({"--metrics-address", ":9187"}),
                "--metrics-address: ':9187' is not HOST:PORT"},
        BadCase{With({"--metrics-address", "0.0.0.0:0"}),
                "--metrics-address: port 0 is not in 1..65535"},
        BadCase{With({"--metrics-address", "0.0.0.0:70000"}),
                "--metrics-address: port 70000 is not in 1..65535"},
        BadCase{With({"--metrics-address", "0.0.0.0:91x7"}),
                "--metrics-address: '0.0.0.0:91x7' is not HOST:PORT"},
        BadCase{With({"--metrics-address", "host name:9187"}),
                "--metrics-address: 'host name:9187' is not HOST:PORT"},
        BadCase{With({"--metrics-address", "[::1:9187"}),
                "--metrics-address: '[::1:9187' is not HOST:PORT"},
        BadCase{{"--kafka-brokers", "k", "--kafka-topics", "^x", "--kafka-group", "g",
                 "--db-user", "u", "--db-name", "d"},
                "--kafka-topics: '^x' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"},
        BadCase{{"--kafka-brokers", "k", "--kafka-topics", "a,..", "--kafka-group", "g",
                 "--db-user", "u", "--db-name", "d"},
                "--kafka-topics: '..' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"},
        BadCase{{"--kafka-brokers", "k", "--kafka-topics", std::string(250, 't'),
                 "--kafka-group", "g", "--db-user", "u", "--db-name", "d"},
                absl::StrCat("--kafka-topics: '", std::string(250, 't'),
                             "' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)")},
        BadCase{{"--kafka-brokers", "k", "--kafka-topics", "a", "--kafka-group", "g",
                 "--db-name", "d"},
                "--db-user is required"},
        BadCase{{"--controller", "ctl:7400", "--kafka-brokers", "k", "--db-name", "d"},
                "--db-user is required"},
        BadCase{With({"--consumer-timeout", "1e300"}),
                "--consumer-timeout: must be at most 1h"},
        BadCase{With({"--consumer-timeout", "3601"}), "--consumer-timeout: must be at most 1h"},
        BadCase{With({"--shutdown-timeout", "1e300"}), "--shutdown-timeout: must be at most 1h"},
        BadCase{With({"--batch-max-rows", "1000001"}),
                "--batch-max-rows: must be at most 1000000"},
        BadCase{With({"--batch-max-bytes", "2GiB"}), "--batch-max-bytes: must be at most 1GiB"},
        BadCase{{"--controller", "ctl:7400", "--kafka-brokers", "k", "--db-user", "u",
                 "--db-name", "d", "--nack-retry-interval", "0"},
                "--nack-retry-interval: must be greater than 0"},
        BadCase{{"--controller", "ctl:7400", "--kafka-brokers", "k", "--db-user", "u",
                 "--db-name", "d", "--nack-retry-interval", "2h"},
                "--nack-retry-interval: must be at most 1h"},
        BadCase{{"--controller", "ctl:7400", "--kafka-brokers", "k", "--db-user", "u",
                 "--db-name", "d", "--kafka-property", "bogus=1"},
                "--kafka-property: No such configuration property: \"bogus\""}));

TEST(WorkerOptionsTest, AcceptsTheLimitsThemselves) {
  absl::StatusOr<WorkerOptions> o =
      Parse(With({"--consumer-timeout", "1h", "--shutdown-timeout", "0", "--batch-max-rows",
                  "1000000", "--batch-max-bytes", "1GiB", "--metrics-address", "[::1]:65535",
                  "--kafka-topics", std::string(249, 't') + ",a.b_c-D9",
                  "--kafka-property", "auto.offset.reset=earliest"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->loop.limits.consumer_timeout, absl::Hours(1));
  EXPECT_EQ(o->loop.shutdown_timeout, absl::ZeroDuration());
  EXPECT_EQ(o->metrics_address, "[::1]:65535");
  o = Parse(With({"--metrics-address", "metrics-host.example:1"}));
  ASSERT_TRUE(o.ok()) << o.status();
}

TEST(WorkerOptionsTest, PasswordFromEnvironment) {
  absl::StatusOr<WorkerOptions> o = Parse(Base(), [](const std::string& name) {
    return name == "PGPASSWORD" ? std::optional<std::string>("s3cret") : std::nullopt;
  });
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->postgres.connection.password, "s3cret");
}

TEST(WorkerOptionsTest, PasswordFromFileWinsOverEnvironment) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/pw";
  std::ofstream(path) << "from-file\n";
  absl::StatusOr<WorkerOptions> o =
      Parse(With({"--db-password-file", path}),
            [](const std::string&) { return std::optional<std::string>("from-env"); });
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->postgres.connection.password, "from-file");
}

TEST(WorkerOptionsTest, PasswordOnArgvWarns) {
  absl::StatusOr<WorkerOptions> o = Parse(With({"--db-password", "visible"}));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->postgres.connection.password, "visible");
  ASSERT_EQ(o->warnings.size(), 1u);
  EXPECT_NE(o->warnings[0].find("visible to other users"), std::string::npos);
}

TEST(WorkerOptionsTest, ControllerModeTakesNoPipelineFlags) {
  absl::StatusOr<WorkerOptions> o =
      Parse({"--controller", "ctl:7400", "--worker-id", "w1", "--kafka-brokers", "k:9092",
             "--db-user", "u", "--db-name", "d"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->controller.address, "ctl:7400");
  EXPECT_EQ(o->worker_id, "w1");
  o = Parse({"--controller", "ctl:7400", "--kafka-brokers", "k", "--db-user", "u", "--db-name",
             "d", "--kafka-topics", "a"});
  EXPECT_EQ(o.status().message(),
            "--kafka-topics cannot be combined with --controller (pipelines come from the "
            "controller)");
  // SLUICE_CONTROLLER is sluicectl's; it does not turn a standalone worker around.
  o = Parse(Base(), [](const std::string& name) {
    return name == "SLUICE_CONTROLLER" ? std::optional<std::string>("ctl:7400") : std::nullopt;
  });
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->controller.address, "");
}

std::vector<std::string> Controlled(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--controller", "ctl:7400", "--kafka-brokers", "k:9092",
                                   "--db-user",    "u",        "--db-name",       "d"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Issue 8: a worker's controller token comes from a file or the environment,
// never argv, and its TLS flags are checked before connecting.
TEST(WorkerOptionsTest, TheControllerTokenComesFromAFileOrTheEnvironment) {
  const std::string path = ::testing::TempDir() + "/worker-token";
  std::ofstream(path) << "s3cret-worker-token-0123456789\n";
  absl::StatusOr<WorkerOptions> o =
      Parse(Controlled({"--controller-token-file", path, "--tls-ca", "ca.pem"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->controller.token, "s3cret-worker-token-0123456789");
  o = Parse(Controlled({"--tls-ca", "ca.pem"}), [](const std::string& name) {
    return name == "SLUICE_TOKEN" ? std::optional<std::string>("from-env") : std::nullopt;
  });
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->controller.token, "from-env");
  std::ofstream(path + "-empty") << "\n";
  EXPECT_EQ(Parse(Controlled({"--controller-token-file", path + "-empty"})).status().message(),
            "--controller-token-file: " + path + "-empty is empty");
  EXPECT_EQ(Parse(Controlled({"--controller-token-file", "/nonexistent/t"})).status().message(),
            "--controller-token-file: cannot read /nonexistent/t");
}

TEST(WorkerOptionsTest, ATokenDoesNotCrossTheNetworkInClearText) {
  auto token = [](const std::string& name) {
    return name == "SLUICE_TOKEN" ? std::optional<std::string>("tok") : std::nullopt;
  };
  EXPECT_EQ(Parse(Controlled(), token).status().message(),
            "the token would cross the network to ctl:7400 in clear text: give --tls-ca, or "
            "accept that with --allow-plaintext-token");
  EXPECT_TRUE(Parse(Controlled({"--allow-plaintext-token"}), token).ok());
  EXPECT_TRUE(Parse(Controlled({"--tls-ca", "ca.pem"}), token).ok());
  std::vector<std::string> local = Controlled();
  local[1] = "127.0.0.1:7400";
  EXPECT_TRUE(Parse(local, token).ok());
  local[1] = "localhost:7400";
  EXPECT_TRUE(Parse(local, token).ok());
}

TEST(WorkerOptionsTest, ControllerFlagsNeedTheController) {
  for (const char* flag : {"--controller-token-file", "--tls-ca", "--tls-cert", "--tls-key"}) {
    EXPECT_EQ(Parse(With({flag, "x"})).status().message(),
              absl::StrCat(flag, " needs --controller"));
  }
  EXPECT_EQ(Parse(Controlled({"--tls-ca", "ca.pem", "--tls-cert", "c.pem"})).status().message(),
            "--tls-cert and --tls-key go together");
  EXPECT_EQ(Parse(Controlled({"--tls-cert", "c.pem", "--tls-key", "k.pem"})).status().message(),
            "--tls-cert needs --tls-ca (the controller's CA)");
}

// Issue 8: Kafka secrets come from a file or the environment, never argv.
TEST(WorkerOptionsTest, KafkaSecretsComeFromAPropertiesFileOrTheEnvironment) {
  const std::string path = ::testing::TempDir() + "/kafka.properties";
  std::ofstream(path) << "# broker security\nsecurity.protocol = SASL_SSL\n"
                         "sasl.mechanisms=PLAIN\nsasl.username=ingest\n"
                         "sasl.password=p=ss w0rd\n\n";
  absl::StatusOr<WorkerOptions> o = Parse(With({"--kafka-properties-file", path,
                                                "--kafka-property", "fetch.wait.max.ms=50"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->kafka.properties.at("security.protocol"), "SASL_SSL");
  EXPECT_EQ(o->kafka.properties.at("sasl.password"), "p=ss w0rd");
  EXPECT_EQ(o->kafka.properties.at("fetch.wait.max.ms"), "50");
  for (const char* secret : {"sasl.password", "ssl.key.password", "ssl.keystore.password",
                             "sasl.oauthbearer.client.secret", "ssl.key.pem"}) {
    absl::StatusOr<WorkerOptions> refused =
        Parse(With({"--kafka-property", absl::StrCat(secret, "=hunter2")}));
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << secret;
    EXPECT_TRUE(absl::StrContains(refused.status().message(), "is a secret")) << secret;
    EXPECT_FALSE(absl::StrContains(refused.status().message(), "hunter2")) << secret;
  }
  o = Parse(Base(), [](const std::string& name) {
    return name == "SLUICE_KAFKA_SASL_PASSWORD" ? std::optional<std::string>("env-pw")
                                                : std::nullopt;
  });
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->kafka.properties.at("sasl.password"), "env-pw");
  std::ofstream(path + "-bad") << "ok.key=1\njust-a-line\n";
  EXPECT_EQ(Parse(With({"--kafka-properties-file", path + "-bad"})).status().message(),
            absl::StrCat("--kafka-properties-file: ", path, "-bad line 2: not key=value"));
}

// The default id was the host name: two workers on one host took each other's
// stream and pipelines.
TEST(WorkerOptionsTest, TheDefaultWorkerIdIsStableAndDiffersPerMetricsPort) {
  EXPECT_EQ(*DefaultWorkerId("node-7", "0.0.0.0:9187"), "node-7-9187");
  EXPECT_EQ(*DefaultWorkerId("node-7", "[::]:9188"), "node-7-9188");
  EXPECT_NE(*DefaultWorkerId("node-7", "0.0.0.0:9187"), *DefaultWorkerId("node-7", "0.0.0.0:9188"));
  EXPECT_EQ(DefaultWorkerId("node-7", "0.0.0.0:0").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Fully qualified names differ at the front.
  EXPECT_EQ(*DefaultWorkerId("worker-01.ingest.eu-west-1.compute.internal", "0.0.0.0:9187"),
            "worker-01-9187");
  EXPECT_NE(*DefaultWorkerId("worker-01.example", "0.0.0.0:9187"),
            *DefaultWorkerId("worker-02.example", "0.0.0.0:9187"));
  // Within the controller's bound; two long names that share their head differ.
  const std::string a = *DefaultWorkerId(std::string(80, 'h') + "a", "0.0.0.0:9187");
  const std::string b = *DefaultWorkerId(std::string(80, 'h') + "b", "0.0.0.0:9187");
  EXPECT_LE(a.size(), 63u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(a.size() - 5), "-9187");
}

TEST(WorkerOptionsTest, HelpStopsBeforeValidation) {
  absl::StatusOr<WorkerOptions> o = Parse({"--help"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->help);
  EXPECT_NE(o->usage.find("--consumer-timeout"), std::string::npos);
}

}  // namespace
}  // namespace sluice::worker

namespace sluice::worker {
namespace {

TEST(WorkerOptionsTest, ColumnMappingWriteModeAndBadRows) {
  absl::StatusOr<WorkerOptions> o =
      Parse(With({"--column", "id=key:text", "--column", "trace=header:trace-id", "--column",
                  "at=offset", "--write-mode", "upsert", "--key-columns", "id",
                  "--delete-on-tombstone", "--bad-rows", "rate:0.05/1m"}));
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->postgres.columns.size(), 3);
  EXPECT_EQ(o->postgres.columns.Get(1).path(), "trace-id");
  EXPECT_EQ(o->postgres.write_mode, v1::WRITE_MODE_UPSERT);
  EXPECT_EQ(o->postgres.key_columns, std::vector<std::string>{"id"});
  EXPECT_TRUE(o->postgres.delete_on_tombstone);
  EXPECT_TRUE(o->kafka.read_headers);
  EXPECT_DOUBLE_EQ(o->loop.max_dead_letter_rate, 0.05);
  EXPECT_EQ(o->loop.dead_letter_window, absl::Minutes(1));
  EXPECT_FALSE(o->postgres.refuse_bad_rows);

  o = Parse(With({"--bad-rows", "none"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->postgres.refuse_bad_rows);
  EXPECT_FALSE(o->kafka.read_headers);

  EXPECT_EQ(Parse(With({"--column", "a=topic:integer"})).status().message(),
            "--column: columns[0].type: topic does not convert to integer");
  EXPECT_EQ(Parse(With({"--write-mode", "upsert"})).status().message(),
            "--write-mode: write_mode: UPSERT needs a column mapping (columns)");
  EXPECT_EQ(Parse(With({"--bad-rows", "rate:2"})).status().message(),
            "--bad-rows: the rate must be greater than 0 and at most 1");
}

}  // namespace
}  // namespace sluice::worker
