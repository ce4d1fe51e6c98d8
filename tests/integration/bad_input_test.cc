// Issue 8: a table-driven bad-input suite. Each case gives the controller, a
// worker, sluicectl or the worker stream something wrong and asserts the exact
// exit code or gRPC status, a message naming the field, and that the state stored
// in PostgreSQL is byte for byte what it was before. Data cases check what a bad
// item becomes (a dead letter with its reason, or a row).
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_limits.h"
#include "gtest/gtest.h"
#include "sluice/v1/control.grpc.pb.h"
#include "tests/fixtures/wait.h"
#include "tests/integration/control_plane_test_base.h"

namespace sluice::testing {
namespace {

enum class Target { kSluicectl, kController, kWorker, kStream };

struct BadInput {
  std::string name;
  Target target;
  // sluicectl / controller / worker arguments, or the stream's raw messages.
  std::vector<std::string> args;
  // Exit code, or the gRPC status code for kStream.
  int code;
  // A piece of the message that names the field (and the problem).
  std::string message;
};

std::string Repeat(char c, size_t n) { return std::string(n, c); }

std::vector<std::string> ManyTopics(int n) {
  std::vector<std::string> topics;
  for (int i = 0; i < n; ++i) topics.push_back(absl::StrCat("t", i));
  return {"--topics", absl::StrJoin(topics, ",")};
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A serialised WorkerMessage (the stream cases send bytes, so they can send
// broken ones too).
std::string HelloBytes(const std::string& worker_id) {
  v1::WorkerMessage m;
  m.mutable_hello()->set_worker_id(worker_id);
  return m.SerializeAsString();
}

std::string StatsBytes() {
  v1::WorkerMessage m;
  m.mutable_stats()->set_sequence(1);
  return m.SerializeAsString();
}

constexpr int kUsage = 2;
constexpr int kRefused = 1;
const int kInvalid = static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT);

std::vector<BadInput> Cases(const std::string& tmp) {
  const std::string short_token = tmp + "/short-tokens";
  std::ofstream(short_token) << "alice admin short\n";
  const std::string good_tokens = tmp + "/good-tokens";
  std::ofstream(good_tokens) << "alice admin a-0123456789abcdef\n";
  const std::string twice_tokens = tmp + "/twice-tokens";
  std::ofstream(twice_tokens) << "alice admin a-0123456789abcdef\nalice read r-0123456789abcdef\n";
  return {
      // The admin API through sluicectl: refused by the controller (exit 1).
      {"empty pipeline name",
       Target::kSluicectl,
       {"pipelines", "create", "", "--topics", "items"},
       kRefused,
       "name: '' must be 1-63"},
      {"pipeline name of 64 bytes",
       Target::kSluicectl,
       {"pipelines", "create", Repeat('p', 64), "--topics", "items"},
       kRefused,
       "name: must be at most 63 bytes"},
      {"pipeline name with a space",
       Target::kSluicectl,
       {"pipelines", "create", "a b", "--topics", "items"},
       kRefused,
       "name: 'a b' must be"},
      {"no topics",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", ""},
       kRefused,
       "topics"},
      {"101 topics", Target::kSluicectl, Concat({"pipelines", "create", "p2"}, ManyTopics(101)),
       kRefused, "topics"},
      {"a topic that is not a Kafka name",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "bad topic!"},
       kRefused,
       "topics"},
      {"a table with two dots",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--table", "a.b.c"},
       kRefused,
       "table"},
      {"a zero consumer timeout",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--consumer-timeout", "0"},
       kRefused,
       "consumer_timeout"},
      {"a property that runs a command",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--kafka-property",
        "sasl.kerberos.kinit.cmd=touch /tmp/pwned"},
       kRefused,
       "kafka_properties: 'sasl.kerberos.kinit.cmd'"},
      {"a property that loads code",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--kafka-property",
        "plugin.library.paths=/tmp/x.so"},
       kRefused,
       "kafka_properties: 'plugin.library.paths'"},
      {"65 distinct properties", Target::kSluicectl,
       Concat({"pipelines", "create", "p2", "--topics", "items"},
              [] {
                std::vector<std::string> args;
                const char* names[] = {"fetch.wait.max.ms", "fetch.min.bytes"};
                for (int i = 0; i < 65; ++i) {
                  args.push_back("--kafka-property");
                  args.push_back(absl::StrCat(names[i % 2], Repeat('x', i / 2), "=1"));
                }
                return args;
              }()),
       kRefused, "kafka_properties"},
      {"a property value of 4 KiB + 1",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--kafka-property",
        "client.rack=" + Repeat('r', 4097)},
       kRefused,
       "kafka_properties"},
      {"a consumer group of 256 bytes",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--group", Repeat('g', 256)},
       kRefused,
       "consumer_group"},
      {"a rollout on an unknown flag",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--rollout-flag", "nosuch",
        "--routing-key", "kafka-key", "--legacy", "skip"},
       kRefused,
       "rollout.flag: no flag named nosuch"},
      {"an existing pipeline",
       Target::kSluicectl,
       {"pipelines", "create", "items", "--topics", "items"},
       kRefused,
       "ALREADY_EXISTS"},
      {"an unknown pipeline",
       Target::kSluicectl,
       {"pipelines", "get", "nosuch"},
       kRefused,
       "NOT_FOUND: pipeline nosuch not found"},
      {"a stale expected version",
       Target::kSluicectl,
       {"pipelines", "update", "items", "--expected-version", "99", "--consumer-timeout", "1"},
       kRefused,
       "not expected_version 99"},
      {"a flag description of 1 KiB + 1",
       Target::kSluicectl,
       {"flags", "create", "f2", "--description", Repeat('d', 1025)},
       kRefused,
       "description"},
      {"a salt of 64 bytes",
       Target::kSluicectl,
       {"flags", "create", "f2", "--salt", Repeat('s', 64)},
       kRefused,
       "salt"},
      {"a change in the past",
       Target::kSluicectl,
       {"flags", "set", "f", "--percent", "10", "--at", "2000-01-01T00:00:00Z",
        "--expected-version", "1"},
       kRefused,
       "effective_time"},
      {"a change 11 years ahead",
       Target::kSluicectl,
       {"flags", "set", "f", "--percent", "10", "--in", "96360h", "--expected-version", "1"},
       kRefused,
       "effective_in: must be at most 10 years"},
      {"an unknown flag",
       Target::kSluicectl,
       {"flags", "eval", "nosuch", "k"},
       kRefused,
       "NOT_FOUND: flag nosuch not found"},
      {"an offsets reset while running",
       Target::kSluicectl,
       {"offsets", "reset", "items", "--topic", "items", "--to", "5"},
       kRefused,
       "pipeline items is running; pause it before resetting its offsets"},
      {"an audit target of 64 bytes",
       Target::kSluicectl,
       {"audit", "list", "--target", Repeat('t', 64)},
       kRefused,
       "target"},
      {"a worker id of 64 bytes",
       Target::kSluicectl,
       {"workers", "get", Repeat('w', 64)},
       kRefused,
       "worker_id"},
      {"draining an unknown worker",
       Target::kSluicectl,
       {"workers", "drain", "nosuch"},
       kRefused,
       "NOT_FOUND: worker nosuch not found"},
      // Refused by sluicectl itself before calling (exit 2).
      {"a percent above 100",
       Target::kSluicectl,
       {"flags", "set", "f", "--percent", "101", "--expected-version", "1"},
       kUsage,
       "--percent"},
      {"a percent that would wrap",
       Target::kSluicectl,
       {"flags", "set", "f", "--percent", "42949673", "--expected-version", "1"},
       kUsage,
       "--percent"},
      {"a percent that is not a number",
       Target::kSluicectl,
       {"flags", "set", "f", "--percent", "ten", "--expected-version", "1"},
       kUsage,
       "--percent"},
      {"a time in year 10000",
       Target::kSluicectl,
       {"flags", "set", "f", "--percent", "10", "--at", "10000-01-01T00:00:00Z",
        "--expected-version", "1"},
       kUsage,
       "--at"},
      {"a ramp step of 0",
       Target::kSluicectl,
       {"flags", "ramp", "f", "--to", "50", "--step", "0", "--every", "1m", "--expected-version",
        "1"},
       kUsage,
       "--step"},
      {"a ramp step above its target",
       Target::kSluicectl,
       {"flags", "ramp", "f", "--to", "50", "--step", "60", "--every", "1m", "--expected-version",
        "1"},
       kRefused,
       "step_basis_points: 6000 is more than target_basis_points 5000"},
      {"a key form without a rollout",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--key-form", "raw"},
       kRefused,
       "rollout."},
      {"a partition beyond int32",
       Target::kSluicectl,
       {"offsets", "reset", "items", "--topic", "items", "--partition", "4294967296", "--to", "0"},
       kUsage,
       "--partition"},
      {"two reset targets",
       Target::kSluicectl,
       {"offsets", "reset", "items", "--topic", "items", "--to-earliest", "--to-latest"},
       kUsage,
       "--to"},
      {"a negative batch size",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--batch-max-rows", "-1"},
       kUsage,
       "--batch-max-rows"},
      {"a batch size beyond uint32",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--batch-max-rows", "4294967296"},
       kUsage,
       "--batch-max-rows"},
      {"a property without a value",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--kafka-property", "novalue"},
       kUsage,
       "--kafka-property"},
      {"an unknown key form",
       Target::kSluicectl,
       {"pipelines", "create", "p2", "--topics", "items", "--key-form", "sideways"},
       kUsage,
       "--key-form"},
      {"an update without its version",
       Target::kSluicectl,
       {"pipelines", "update", "items", "--consumer-timeout", "1"},
       kUsage,
       "--expected-version"},
      {"stats by an unknown grouping",
       Target::kSluicectl,
       {"stats", "--by", "colour"},
       kUsage,
       "--by"},
      {"an unknown noun", Target::kSluicectl, {"gadgets", "list"}, kUsage, "gadgets"},
      {"a JSON usage error",
       Target::kSluicectl,
       {"--json", "flags", "set", "f", "--percent", "x"},
       kUsage,
       "{\"code\":\"INVALID_ARGUMENT\""},
      // The controller's own flags (exit 2 before serving).
      {"a non-loopback listen without authentication",
       Target::kController,
       {"--listen", "0.0.0.0:7499"},
       kUsage,
       "--listen 0.0.0.0:7499 is not a loopback address"},
      {"a token file with a short token",
       Target::kController,
       {"--auth-tokens-file", short_token},
       kUsage,
       "--auth-tokens-file: line 1: TOKEN must be at least 16 bytes"},
      {"a token file that does not exist",
       Target::kController,
       {"--auth-tokens-file", "/nonexistent/tokens"},
       kUsage,
       "--auth-tokens-file: cannot read /nonexistent/tokens"},
      {"a certificate without its key",
       Target::kController,
       {"--tls-cert", "/x.pem"},
       kUsage,
       "--tls-cert and --tls-key go together"},
      {"a client CA without a certificate",
       Target::kController,
       {"--tls-client-ca", "/ca.pem"},
       kUsage,
       "--tls-client-ca needs --tls-cert"},
      {"tokens and --allow-unauthenticated",
       Target::kController,
       {"--auth-tokens-file", short_token, "--allow-unauthenticated"},
       kUsage,
       "--allow-unauthenticated contradicts --auth-tokens-file"},
      {"a schedule retention under an hour",
       Target::kController,
       {"--schedule-retention", "10m"},
       kUsage,
       "--schedule-retention: must be at least 1h"},
      {"tokens on a remote listen without TLS",
       Target::kController,
       {"--listen", "0.0.0.0:7499", "--auth-tokens-file", good_tokens},
       kUsage,
       "tokens would cross the network in clear text"},
      {"a token file with a name twice",
       Target::kController,
       {"--auth-tokens-file", twice_tokens},
       kUsage,
       "line 2: NAME alice appears twice"},
      {"a zero hello timeout",
       Target::kController,
       {"--hello-timeout", "0"},
       kUsage,
       "--hello-timeout: must be greater than 0"},
      // The worker's flags (exit 2 before connecting).
      {"a SASL password on argv",
       Target::kWorker,
       {"--kafka-property", "sasl.password=hunter2"},
       kUsage,
       "--kafka-property: sasl.password is a secret"},
      {"TLS flags without a controller",
       Target::kWorker,
       {"--tls-ca", "/ca.pem"},
       kUsage,
       "--tls-ca needs --controller"},
      {"a controller token file that does not exist",
       Target::kWorker,
       {"--controller", "127.0.0.1:1", "--controller-token-file", "/nonexistent/t"},
       kUsage,
       "--controller-token-file: cannot read /nonexistent/t"},
      {"a worker id of 64 bytes",
       Target::kWorker,
       {"--controller", "127.0.0.1:1", "--worker-id", Repeat('w', 64)},
       kUsage,
       "--worker-id: must be at most 63 bytes"},
      // The worker stream, as raw bytes.
      {"a truncated protobuf",
       Target::kStream,
       {HelloBytes("w9").substr(0, 3)},
       kInvalid,
       "the stream ended before a valid Hello"},
      {"a Hello without a worker id", Target::kStream, {HelloBytes("")}, kInvalid, "worker_id"},
      {"stats before Hello",
       Target::kStream,
       {StatsBytes()},
       kInvalid,
       "the first message must be a Hello"},
      {"a Hello with a worker id of 64 bytes",
       Target::kStream,
       {HelloBytes(Repeat('w', 64))},
       kInvalid,
       "hello.worker_id: must be at most 63 bytes"},
      {"a worker id that is not UTF-8",
       Target::kStream,
       {HelloBytes("w\xff\xfe")},
       kInvalid,
       "the stream ended before a valid Hello"},
      {"a message over 16 MiB",
       Target::kStream,
       {HelloBytes(Repeat('w', 17 << 20))},
       static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED),
       "larger than max"},
  };
}

class BadInputTest : public ControlPlaneTest {
 protected:
  // Everything the controller and the workers store, reduced to a 60-bit digest
  // and a row count (PgDatabase reads integers).
  std::pair<int64_t, int64_t> StoredState() {
    const std::string rows =
        "SELECT row_to_json(p)::text AS t FROM sluice_controller.pipelines p UNION ALL "
        "SELECT row_to_json(h)::text FROM sluice_controller.pipeline_history h UNION ALL "
        "SELECT row_to_json(a)::text FROM sluice_controller.audit a UNION ALL "
        "SELECT row_to_json(f)::text FROM sluice_controller.flags f UNION ALL "
        "SELECT row_to_json(g)::text FROM sluice_controller.flag_history g UNION ALL "
        "SELECT row_to_json(o)::text FROM sluice_offsets o";
    return {db_.QueryInt(absl::StrCat("SELECT ('x' || substr(md5(coalesce(string_agg(t, '|' "
                                      "ORDER BY t), '')), 1, 15))::bit(60)::bigint FROM (",
                                      rows, ") s")),
            db_.QueryInt(absl::StrCat("SELECT count(*) FROM (", rows, ") s"))};
  }

  // Runs a binary with `args` (after its required connection flags); returns the
  // exit code and the output.
  std::pair<int, std::string> RunBinary(Target target, const std::vector<std::string>& args) {
    const bool controller = target == Target::kController;
    std::vector<std::string> argv = {
        RunfilePath(controller ? "controller/sluice-controller" : "worker/sluice-worker")};
    // Both take the same database and metrics flags; the worker also brokers.
    std::vector<std::pair<std::string, std::string>> flags = {
        {"--db-host", db_.host},
        {"--db-port", std::to_string(db_.port)},
        {"--db-user", db_.user},
        {"--db-name", db_.dbname},
        {"--metrics-address", absl::StrCat("127.0.0.1:", PickFreePort())}};
    if (!controller) flags.push_back({"--kafka-brokers", kafka_->bootstrap()});
    for (const auto& [flag, value] : flags) {
      argv.push_back(flag);
      argv.push_back(value);
    }
    if (!controller) {
      const bool controlled = std::find(args.begin(), args.end(), "--controller") != args.end();
      if (!controlled) argv.insert(argv.end(), {"--kafka-topics", "items", "--kafka-group", "g"});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string out = absl::StrCat(TestTempDir(), "/bad-input-binary.out");
    absl::StatusOr<int> code = RunCommand(argv, out, absl::Seconds(20));
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return {code.ok() ? *code : -1, text};
  }

  // Opens WorkerControl.Connect, writes each raw message, and returns the status.
  grpc::Status RunStream(const std::vector<std::string>& messages) {
    // No client-side send limit: the controller's own limit is what is tested.
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(-1);
    auto channel =
        grpc::CreateCustomChannel(controller_->address(), grpc::InsecureChannelCredentials(), args);
    grpc::GenericStub stub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::CompletionQueue cq;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
        stub.PrepareCall(&ctx, "/sluice.v1.WorkerControl/Connect", &cq);
    void* tag = nullptr;
    bool ok = false;
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    for (const std::string& m : messages) {
      grpc::Slice slice(m);
      grpc::ByteBuffer buffer(&slice, 1);
      call->Write(buffer, reinterpret_cast<void*>(2));
      cq.Next(&tag, &ok);
      if (!ok) break;
    }
    call->WritesDone(reinterpret_cast<void*>(3));
    cq.Next(&tag, &ok);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return status;
  }
};

TEST_F(BadInputTest, EachBadInputIsRefusedNamingTheFieldAndChangesNothing) {
  CreateItems();
  ASSERT_EQ(Ctl({"flags", "create", "f"}).code, 0);
  const std::vector<BadInput> cases = Cases(TestTempDir());
  ASSERT_GE(cases.size(), 40u);
  for (const BadInput& c : cases) {
    SCOPED_TRACE(c.name);
    const std::pair<int64_t, int64_t> before = StoredState();
    int code = -1;
    std::string message;
    switch (c.target) {
      case Target::kSluicectl: {
        CtlResult r = Ctl(c.args);
        code = r.code;
        message = r.output;
        break;
      }
      case Target::kController:
      case Target::kWorker:
        std::tie(code, message) = RunBinary(c.target, c.args);
        break;
      case Target::kStream: {
        const grpc::Status s = RunStream(c.args);
        code = static_cast<int>(s.error_code());
        message = s.error_message();
        break;
      }
    }
    EXPECT_EQ(code, c.code) << message;
    EXPECT_TRUE(absl::StrContains(message, c.message)) << message;
    EXPECT_EQ(StoredState(), before) << "the stored state changed";
  }
  // The controller is still well after all of it.
  EXPECT_EQ(Ctl({"pipelines", "get", "items"}).code, 0);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_controller.pipelines"), 1);
}

// Bad data: each item lands or becomes a dead letter with its reason; the
// pipeline goes on.
TEST_F(BadInputTest, BadItemsBecomeDeadLettersWithTheirReasonAndTheRestLands) {
  auto w = Worker("w1");
  CreateItems();
  std::vector<DevKafka::Record> records = {
      {"k\xff\xfe-not-utf8", R"({"ok":1})", absl::Now()},  // a binary key: stored as is
      {"k2", "{\"bad\":\"\xff\xfe\"}", absl::Now()},       // payload not UTF-8
      {"k3", "", absl::Now()},                             // empty payload
      {"k4", R"({"nul":"\u0000"})", absl::Now()},          // \u0000 in jsonb
      {"k5", R"({"truncated": )", absl::Now()},            // not JSON
      {"k6", absl::StrCat(R"({"big":")", Repeat('b', 900 << 10), R"("})"), absl::Now()},
      {"k7", R"({"ok":7})", absl::Now()},
  };
  ASSERT_TRUE(kafka_->ProduceRecords("items", records).ok());
  ASSERT_TRUE(WaitFor([&] { return TablesExist(); }, absl::Seconds(60)));
  ASSERT_TRUE(WaitFor(
      [&] {
        return db_.QueryInt("SELECT count(*) FROM raw_items") +
                   db_.QueryInt("SELECT count(*) FROM sluice_dead_letters") ==
               static_cast<int64_t>(records.size());
      },
      absl::Seconds(60)));
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE kafka_key = "
                         "'\\x6bfffe2d6e6f742d75746638'::bytea"),
            1);
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE octet_length(payload::text) > "
                         "900000"),
            1);
  struct Expected {
    const char* key;
    const char* reason;
  };
  for (const Expected& e :
       {Expected{"k2", "invalid byte sequence for encoding \"UTF8\""}, Expected{"k3", "json"},
        Expected{"k4", "\\u0000"}, Expected{"k5", "json"}}) {
    EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM sluice_dead_letters WHERE "
                                        "kafka_key = '",
                                        e.key, "'::bytea AND error LIKE '%", e.reason, "%'")),
              1)
        << e.key << " should be a dead letter naming " << e.reason;
  }
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM raw_items WHERE kafka_key = 'k7'::bytea"), 1);
}

}  // namespace
}  // namespace sluice::testing
