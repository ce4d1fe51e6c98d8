// Issue 8: an authenticated, encrypted control plane. A controller with bearer
// tokens, TLS (certificates made by openssl at run time) and mutual TLS for
// workers, against real workers, sluicectl and raw gRPC clients.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <fstream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_limits.h"
#include "flagd/sync/v1/sync.grpc.pb.h"
#include "flags/flag_client.h"
#include "gtest/gtest.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "sluice/v1/control.grpc.pb.h"
#include "sluice/v1/flags.pb.h"
#include "tests/fakes/runfiles.h"
#include "tests/fixtures/controller_process.h"
#include "tests/fixtures/test_certificates.h"
#include "tests/fixtures/wait.h"
#include "tests/integration/worker_test_base.h"

namespace sluice::testing {
namespace {

constexpr char kAdminToken[] = "admin-tok-6b1f0c9e2d7a4b38";
constexpr char kReadToken[] = "read-tok-93aa17c0f4e2b561";
constexpr char kWorkerToken[] = "worker-tok-5e8d2c71b0a94f36";
constexpr char kOtherWorkerToken[] = "worker-tok-b-0c3e9a7f15d246e8";
constexpr char kPlantedDbPassword[] = "ctl-db-pw-planted-77e2";
constexpr char kPlantedSaslPassword[] = "kafka-sasl-pw-planted-91c4";
constexpr char kPlantedWrongToken[] = "wrong-token-planted-3a9f51c2";

std::string WriteFile(const std::string& name, const std::string& contents) {
  const std::string path = absl::StrCat(TestTempDir(), "/", name);
  std::ofstream(path) << contents;
  return path;
}

using ::sluice::testing::ReadFile;

class SecurityTest : public WorkerExactlyOnceTest {
 protected:
  void SetUp() override {
    WorkerExactlyOnceTest::SetUp();
    if (HasFatalFailure()) return;
    absl::StatusOr<TestCertificates> certs = MakeTestCertificates(TestTempDir() + "/certs");
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = *certs;
    tokens_file_ = WriteFile(
        "tokens", absl::StrCat("# NAME ROLE TOKEN\n", "ops-alice admin ", kAdminToken, "\n",
                               "ci-reader read ", kReadToken, "\n", "worker-a worker ",
                               kWorkerToken, "\n", "worker-b worker ", kOtherWorkerToken, "\n"));
    admin_token_file_ = WriteFile("admin-token", absl::StrCat(kAdminToken, "\n"));
    read_token_file_ = WriteFile("read-token", kReadToken);
    worker_token_file_ = WriteFile("worker-token", kWorkerToken);
    // PostgreSQL trusts local connections here, so the password is never checked:
    // it is planted to be looked for in every output.
    db_password_file_ = WriteFile("controller-db-password", kPlantedDbPassword);
    absl::StatusOr<std::unique_ptr<ControllerProcess>> c = ControllerProcess::Start(
        db_,
        {"--auth-tokens-file", tokens_file_, "--tls-cert", certs_.server_cert, "--tls-key",
         certs_.server_key, "--tls-client-ca", certs_.ca, "--db-password-file", db_password_file_,
         // Not loopback: flagd providers must present a client certificate.
         "--flagd-sync-address", absl::StrCat("0.0.0.0:", flagd_port_), "--flagd-sync-client-ca",
         certs_.ca, "--stats-interval", "1s", "--worker-lease", "3s", "--flag-lead", "2s"},
        {"--tls-ca", certs_.ca, "--token-file", read_token_file_});
    ASSERT_TRUE(c.ok()) << c.status();
    controller_ = std::move(*c);
  }

  CtlResult Ctl(const std::string& token_file, std::vector<std::string> args) {
    std::vector<std::string> all = {"--tls-ca", certs_.ca};
    if (!token_file.empty()) {
      all.push_back("--token-file");
      all.push_back(token_file);
    }
    all.insert(all.end(), args.begin(), args.end());
    return Sluicectl(controller_->address(), all);
  }

  std::shared_ptr<grpc::Channel> TlsChannel(bool with_client_certificate) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(certs_.ca);
    if (with_client_certificate) {
      options.pem_cert_chain = ReadFile(certs_.worker_cert);
      options.pem_private_key = ReadFile(certs_.worker_key);
    }
    return grpc::CreateCustomChannel(controller_->address(), grpc::SslCredentials(options),
                                     SluiceChannelArguments());
  }

  std::unique_ptr<WorkerProcess> Worker(const std::string& id, std::vector<std::string> extra) {
    absl::StatusOr<std::unique_ptr<WorkerProcess>> w = WorkerProcess::StartControlled(
        {kafka_->bootstrap(), controller_->address(), id, db_, std::move(extra)});
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? std::move(*w) : nullptr;
  }

  std::vector<std::string> WorkerTls() {
    return {
        "--controller-token-file", worker_token_file_, "--tls-ca",       certs_.ca, "--tls-cert",
        certs_.worker_cert,        "--tls-key",        certs_.worker_key};
  }

  void CreateItems() {
    CtlResult r = Ctl(admin_token_file_,
                      {"pipelines", "create", "items", "--topics", "items", "--create-table",
                       "--consumer-timeout", "0.15", "--kafka-property", "fetch.wait.max.ms=50",
                       "--kafka-property", "session.timeout.ms=6000", "--kafka-property",
                       "heartbeat.interval.ms=500"});
    ASSERT_EQ(r.code, 0) << r.output;
  }

  TestCertificates certs_;
  const int flagd_port_ = PickFreePort();
  std::string tokens_file_, admin_token_file_, read_token_file_, worker_token_file_,
      db_password_file_;
  std::unique_ptr<ControllerProcess> controller_;
};

// One call of `method` ("/sluice.v1.Admin/GetPipeline") with an empty request,
// as a generic unary call; streaming methods end at the short deadline.
grpc::Status CallWithToken(grpc::Channel* channel, const std::string& method,
                           const std::string& token) {
  grpc::GenericStub stub(std::shared_ptr<grpc::Channel>(channel, [](grpc::Channel*) {}));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::CompletionQueue cq;
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub.PrepareUnaryCall(&ctx, method, request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// The expected role of every method, written here independently of the
// controller: a method added without deciding its role fails this test.
TEST_F(SecurityTest, EveryMethodOfEveryServiceNeedsItsRole) {
  const std::set<std::string> read_methods = {
      "Admin.GetPipeline",       "Admin.ListPipelines", "Admin.ValidatePipeline",
      "Admin.GetPipelineStatus", "Admin.ListWorkers",   "Admin.GetWorker",
      "Admin.GetStats",          "Admin.GetOffsets",    "Admin.ListAudit",
      "Admin.GetFlag",           "Admin.ListFlags",     "Admin.EvaluateFlag",
      "Admin.GetFlagHolders",    "Flags.Watch",         "Flags.Evaluate",
      "Admin.ListDeadLetters",   "Admin.GetDeadLetter"};
  const std::set<std::string> admin_methods = {
      "Admin.CreatePipeline",     "Admin.UpdatePipeline",   "Admin.DeletePipeline",
      "Admin.PausePipeline",      "Admin.ResumePipeline",   "Admin.DrainWorker",
      "Admin.ResetOffsets",       "Admin.CreateFlag",       "Admin.SetFlag",
      "Admin.RollbackFlag",       "Admin.RampFlag",         "Admin.KillFlag",
      "Admin.DiscardDeadLetters", "Admin.ReplayDeadLetters"};
  const std::set<std::string> worker_methods = {"WorkerControl.Connect"};
  std::shared_ptr<grpc::Channel> channel = TlsChannel(/*with_client_certificate=*/true);
  int methods = 0;
  for (const google::protobuf::ServiceDescriptor* service :
       {v1::CreatePipelineRequest::descriptor()->file()->FindServiceByName("Admin"),
        v1::WatchFlagsRequest::descriptor()->file()->FindServiceByName("Flags"),
        v1::Hello::descriptor()->file()->FindServiceByName("WorkerControl")}) {
    ASSERT_NE(service, nullptr);
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      const std::string name = absl::StrCat(service->name(), ".", m->name());
      const std::string path = absl::StrCat("/", service->full_name(), "/", m->name());
      const bool read = read_methods.count(name) > 0;
      const bool admin = admin_methods.count(name) > 0;
      const bool worker = worker_methods.count(name) > 0;
      ASSERT_EQ(read + admin + worker, 1) << name << " has no expected role in this test";
      ++methods;
      struct Try {
        const char* who;
        std::string token;
        bool allowed;
      };
      for (const Try& t :
           {Try{"no token", "", false}, Try{"an unknown token", "not-a-token-0123456789", false},
            Try{"the read token", kReadToken, read}, Try{"a worker token", kWorkerToken, worker},
            Try{"the admin token", kAdminToken, true}}) {
        const grpc::Status s = CallWithToken(channel.get(), path, t.token);
        if (t.allowed) {
          EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << name << ", " << t.who;
          EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << name << ", " << t.who;
        } else if (t.token.empty() || t.token == "not-a-token-0123456789") {
          EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
              << name << ", " << t.who << ": " << s.error_message();
        } else {
          EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
              << name << ", " << t.who << ": " << s.error_message();
        }
      }
    }
  }
  EXPECT_EQ(methods,
            static_cast<int>(read_methods.size() + admin_methods.size() + worker_methods.size()));
}

TEST_F(SecurityTest, SluicectlTakesItsTokenFromAFileOrTheEnvironment) {
  // No token: UNAUTHENTICATED, exit 1, and the message says what to do.
  CtlResult none = Ctl("", {"pipelines", "list"});
  EXPECT_EQ(none.code, 1) << none.output;
  EXPECT_TRUE(absl::StrContains(none.output, "UNAUTHENTICATED")) << none.output;
  EXPECT_TRUE(absl::StrContains(none.output, "SLUICE_TOKEN")) << none.output;
  // A read token reads and cannot write.
  EXPECT_EQ(Ctl(read_token_file_, {"pipelines", "list"}).code, 0);
  CtlResult write = Ctl(read_token_file_, {"--json", "flags", "create", "f1"});
  EXPECT_EQ(write.code, 1) << write.output;
  EXPECT_TRUE(absl::StrContains(write.output, "\"code\":\"PERMISSION_DENIED\"")) << write.output;
  EXPECT_TRUE(absl::StrContains(write.output, "needs the admin role; ci-reader has read"))
      << write.output;
  // SLUICE_TOKEN, through the environment.
  const std::string out = TestTempDir() + "/env-ctl.out";
  absl::StatusOr<int> code = RunCommand(
      {"/usr/bin/env", absl::StrCat("SLUICE_TOKEN=", kAdminToken), RunfilePath("cli/sluicectl"),
       "--controller", controller_->address(), "--tls-ca", certs_.ca, "flags", "create", "f1"},
      out, absl::Seconds(30));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << ReadFile(out);
  // The audit log names the token holder, whatever the client claims.
  {
    auto stub = v1::Admin::NewStub(TlsChannel(/*with_client_certificate=*/false));
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
    ctx.AddMetadata("x-sluice-actor", "mallory");
    v1::CreateFlagRequest req;
    req.set_name("f2");
    v1::Flag flag;
    ASSERT_TRUE(stub->CreateFlag(&ctx, req, &flag).ok());
  }
  CtlResult audit = Ctl(read_token_file_, {"--json", "audit", "list"});
  ASSERT_EQ(audit.code, 0) << audit.output;
  EXPECT_TRUE(absl::StrContains(audit.output, "\"actor\": \"ops-alice\"")) << audit.output;
  EXPECT_EQ(db_.QueryInt("SELECT count(*) FROM sluice_controller.audit WHERE actor <> 'ops-alice'"),
            0);
  // A plaintext client cannot talk to a TLS controller; a client that trusts
  // another CA refuses the controller's certificate.
  CtlResult plain =
      Sluicectl(controller_->address(), {"--token-file", read_token_file_, "pipelines", "list"});
  EXPECT_EQ(plain.code, 1) << plain.output;
  EXPECT_TRUE(absl::StrContains(plain.output, "UNAVAILABLE")) << plain.output;
  CtlResult wrong_ca = Sluicectl(
      controller_->address(),
      {"--tls-ca", certs_.other_ca, "--token-file", read_token_file_, "pipelines", "list"});
  EXPECT_EQ(wrong_ca.code, 1) << wrong_ca.output;
  EXPECT_TRUE(absl::StrContains(wrong_ca.output, "UNAVAILABLE")) << wrong_ca.output;
}

// A worker with its token and client certificate ingests over TLS; one without
// a certificate, or with one from another CA, is refused and says why.
TEST_F(SecurityTest, WorkersNeedTheirTokenAndAClientCertificate) {
  auto w = Worker("w1", WorkerTls());
  CreateItems();
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 500)).ok());
  ExpectExactlyOnce(500);

  auto no_cert =
      Worker("w2", {"--controller-token-file", worker_token_file_, "--tls-ca", certs_.ca});
  std::optional<int> exited = no_cert->process().Wait(absl::Seconds(30));
  ASSERT_TRUE(exited.has_value());
  EXPECT_EQ(*exited, 1);
  EXPECT_TRUE(absl::StrContains(no_cert->process().ReadLog(), "client certificate"))
      << no_cert->process().ReadLog();

  auto rogue = Worker("w3", {"--controller-token-file", worker_token_file_, "--tls-ca", certs_.ca,
                             "--tls-cert", certs_.rogue_cert, "--tls-key", certs_.rogue_key});
  // The handshake fails (the controller does not trust other-ca): the worker
  // retries and never connects.
  EXPECT_TRUE(WaitFor(
      [&] { return absl::StrContains(rogue->process().ReadLog(), "unreachable; retrying"); },
      absl::Seconds(20)))
      << rogue->process().ReadLog();
  EXPECT_FALSE(absl::StrContains(rogue->process().ReadLog(), "connected to controller"));
  CtlResult workers = Ctl(read_token_file_, {"--json", "workers", "list"});
  EXPECT_FALSE(absl::StrContains(workers.output, "\"w3\"")) << workers.output;

  auto read_token =
      Worker("w4", {"--controller-token-file", read_token_file_, "--tls-ca", certs_.ca,
                    "--tls-cert", certs_.worker_cert, "--tls-key", certs_.worker_key});
  exited = read_token->process().Wait(absl::Seconds(30));
  ASSERT_TRUE(exited.has_value());
  EXPECT_EQ(*exited, 1);
  EXPECT_TRUE(absl::StrContains(read_token->process().ReadLog(), "PERMISSION_DENIED") ||
              absl::StrContains(read_token->process().ReadLog(), "needs the worker role"))
      << read_token->process().ReadLog();
}

// The embeddable client (and so sluice-produce) takes the token and the CA
// through its options; a refused watch says why.
TEST_F(SecurityTest, FlagClientUsesItsTokenAndTlsAndSaysWhyItWasRefused) {
  ASSERT_EQ(Ctl(admin_token_file_, {"flags", "create", "kafka-ingest"}).code, 0);
  absl::StatusOr<std::unique_ptr<flags::FlagClient>> reader =
      flags::FlagClient::Create({controller_->address(), kReadToken, certs_.ca});
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE((*reader)->WaitForSnapshot(absl::Seconds(10)));
  EXPECT_TRUE((*reader)->Evaluate("kafka-ingest", "p1", absl::Now()).ok());

  absl::StatusOr<std::unique_ptr<flags::FlagClient>> worker =
      flags::FlagClient::Create({controller_->address(), kWorkerToken, certs_.ca});
  ASSERT_TRUE(worker.ok());
  EXPECT_FALSE((*worker)->WaitForSnapshot(absl::Seconds(2)));
  const absl::Status refused = (*worker)->Evaluate("kafka-ingest", "p1", absl::Now()).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(refused.message(), "needs the read role; worker-a has worker"))
      << refused.message();

  EXPECT_EQ(flags::FlagClient::Create({controller_->address(), kReadToken, "/nonexistent/ca.pem"})
                .status()
                .message(),
            "--tls-ca: cannot read /nonexistent/ca.pem");
}

// Issue 13: the flagd sync listener serves the flags without a token (the stock
// providers cannot send one), so off loopback it takes only callers with a client
// certificate from --flagd-sync-client-ca; and a controller asked to serve it off
// loopback without one does not start.
TEST_F(SecurityTest, FlagdSyncOffLoopbackNeedsAClientCertificate) {
  ASSERT_EQ(Ctl(admin_token_file_, {"flags", "create", "kafka-ingest"}).code, 0);
  auto fetch = [&](const std::string& cert, const std::string& key) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadFile(certs_.ca);
    if (!cert.empty()) {
      tls.pem_cert_chain = ReadFile(cert);
      tls.pem_private_key = ReadFile(key);
    }
    auto stub = ::flagd::sync::v1::FlagSyncService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", flagd_port_), grpc::SslCredentials(tls)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ::flagd::sync::v1::FetchAllFlagsRequest req;
    ::flagd::sync::v1::FetchAllFlagsResponse resp;
    const grpc::Status s = stub->FetchAllFlags(&ctx, req, &resp);
    return s.ok() ? resp.flag_configuration() : absl::StrCat("refused: ", s.error_message());
  };
  const std::string config = fetch(certs_.worker_cert, certs_.worker_key);
  EXPECT_TRUE(absl::StrContains(config, R"("kafka-ingest":{"state":"ENABLED")")) << config;
  EXPECT_TRUE(absl::StartsWith(fetch("", ""), "refused: ")) << "no client certificate";
  EXPECT_TRUE(absl::StartsWith(fetch(certs_.rogue_cert, certs_.rogue_key), "refused: "))
      << "a certificate of another CA";

  const std::string log = absl::StrCat(TestTempDir(), "/flagd-refused.log");
  absl::StatusOr<int> rc = RunCommand({RunfilePath("controller/sluice-controller"), "--db-name",
                                       "unused", "--flagd-sync-address", "0.0.0.0:1"},
                                      log, absl::Seconds(10));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_NE(*rc, 0);
  EXPECT_TRUE(absl::StrContains(ReadFile(log),
                                "--flagd-sync-address 0.0.0.0:1 is not a loopback "
                                "address: flagd providers present no token"))
      << ReadFile(log);
}

// Tokens are rotated and revoked by editing the file and sending SIGHUP; a worker
// whose token is revoked loses its stream, and a broken file keeps the old tokens.
TEST_F(SecurityTest, SighupReadsTheTokensFileAgain) {
  auto w = Worker("w1", WorkerTls());
  ASSERT_TRUE(WaitFor([&] {
    return absl::StrContains(Ctl(read_token_file_, {"--json", "workers", "list"}).output,
                             "\"w1\"");
  }, absl::Seconds(20)));
  auto reload = [&](const std::string& contents, const std::string& expect_in_log) {
    std::ofstream(tokens_file_) << contents;
    controller_->process().Signal(SIGHUP);
    return WaitFor([&] {
      return absl::StrContains(controller_->process().ReadLog(), expect_in_log);
    }, absl::Seconds(10));
  };
  // Broken: nothing changes.
  ASSERT_TRUE(reload("ops-alice admin short\n", "tokens not reloaded (the old ones stay)"));
  EXPECT_EQ(Ctl(read_token_file_, {"pipelines", "list"}).code, 0);
  // ci-reader and worker-a revoked, ops-alice rotated.
  const std::string rotated = "admin-tok-rotated-0f3b6a9d21";
  ASSERT_TRUE(reload(absl::StrCat("ops-alice admin ", rotated, "\n"), "read again"));
  CtlResult revoked = Ctl(read_token_file_, {"pipelines", "list"});
  EXPECT_EQ(revoked.code, 1);
  EXPECT_TRUE(absl::StrContains(revoked.output, "UNAUTHENTICATED")) << revoked.output;
  EXPECT_EQ(Ctl(admin_token_file_, {"pipelines", "list"}).code, 1);
  EXPECT_EQ(Ctl(WriteFile("rotated", rotated), {"pipelines", "list"}).code, 0);
  // The worker's stream ends and the worker exits (its token is no more).
  std::optional<int> exited = w->process().Wait(absl::Seconds(20));
  ASSERT_TRUE(exited.has_value());
  EXPECT_EQ(*exited, 1);
  EXPECT_TRUE(absl::StrContains(w->process().ReadLog(), "UNAUTHENTICATED") ||
              absl::StrContains(w->process().ReadLog(), "unknown token"))
      << w->process().ReadLog();
}

// Anyone could send a Hello with a live worker's id and take its stream.
TEST_F(SecurityTest, ALiveWorkerIdCannotBeTakenOverWithAnotherToken) {
  auto w = Worker("w1", WorkerTls());
  ASSERT_TRUE(WaitFor(
      [&] {
        return absl::StrContains(Ctl(read_token_file_, {"--json", "workers", "list"}).output,
                                 "\"w1\"");
      },
      absl::Seconds(20)));
  auto hello_as = [&](const std::string& token) {
    auto stub = v1::WorkerControl::NewStub(TlsChannel(/*with_client_certificate=*/true));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    ctx.AddMetadata("authorization", "Bearer " + token);
    auto stream = stub->Connect(&ctx);
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_id("w1");
    stream->Write(hello);
    stream->WritesDone();
    v1::ControllerMessage msg;
    while (stream->Read(&msg)) {
    }
    return stream->Finish();
  };
  const grpc::Status other = hello_as(kOtherWorkerToken);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED) << other.error_message();
  EXPECT_TRUE(absl::StrContains(other.error_message(), "cannot be taken over"));
  EXPECT_TRUE(absl::StrContains(controller_->process().ReadLog(),
                                "refused a Hello for worker w1 from worker-b"));
  // The same token name supersedes the stream (a worker whose connection is
  // half-open comes back at once); the stream then ends normally.
  const grpc::Status same = hello_as(kWorkerToken);
  EXPECT_NE(same.error_code(), grpc::StatusCode::PERMISSION_DENIED) << same.error_message();
  EXPECT_NE(same.error_code(), grpc::StatusCode::UNAUTHENTICATED) << same.error_message();
}

// Tokens, the controller's database password and a worker's Kafka SASL password
// (from its properties file; the dev broker has no SASL, so it stays unused)
// appear in no output.
TEST_F(SecurityTest, TokensAndPasswordsAppearInNoOutputSurface) {
  std::vector<std::string> worker_args = WorkerTls();
  worker_args.push_back("--kafka-properties-file");
  worker_args.push_back(
      WriteFile("kafka.properties",
                absl::StrCat("sasl.username=ingest\nsasl.password=", kPlantedSaslPassword, "\n")));
  auto w = Worker("w1", worker_args);
  CreateItems();
  ASSERT_TRUE(kafka_->Produce("items", Items(0, 100)).ok());
  ExpectExactlyOnce(100);
  // Refused calls carrying secrets: an unknown (planted) token, and a read token
  // on a write.
  const std::string wrong_token_file = WriteFile("wrong-token", kPlantedWrongToken);
  EXPECT_EQ(Ctl(wrong_token_file, {"pipelines", "list"}).code, 1);
  EXPECT_EQ(Ctl(read_token_file_, {"flags", "create", "x"}).code, 1);
  std::vector<std::pair<std::string, std::string>> surfaces = {
      {"worker log", w->process().ReadLog()},
      {"worker /metrics", w->HttpGet("/metrics")},
      {"controller log", controller_->process().ReadLog()},
      {"controller /metrics", HttpGet(controller_->metrics_port(), "/metrics")},
  };
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--json", "pipelines", "get", "items"},
                                             {"--json", "workers", "list"},
                                             {"--json", "audit", "list"},
                                             {"--json", "stats"}}) {
    surfaces.push_back({absl::StrJoin(args, " "), Ctl(admin_token_file_, args).output});
  }
  const std::string dump =
      "SELECT coalesce(string_agg(t, ' '), '') FROM ("
      "SELECT row_to_json(p)::text AS t FROM sluice_controller.pipelines p UNION ALL "
      "SELECT row_to_json(h)::text FROM sluice_controller.pipeline_history h UNION ALL "
      "SELECT row_to_json(a)::text FROM sluice_controller.audit a UNION ALL "
      "SELECT row_to_json(f)::text FROM sluice_controller.flags f UNION ALL "
      "SELECT row_to_json(g)::text FROM sluice_controller.flag_history g UNION ALL "
      "SELECT row_to_json(o)::text FROM sluice_offsets o) x";
  for (const char* secret : {kAdminToken, kReadToken, kWorkerToken, kOtherWorkerToken,
                             kPlantedDbPassword, kPlantedSaslPassword, kPlantedWrongToken}) {
    for (const auto& [name, text] : surfaces) {
      EXPECT_FALSE(absl::StrContains(text, secret)) << name << " shows a secret";
      EXPECT_FALSE(text.empty()) << name << " is empty: the check would prove nothing";
    }
    EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM (", dump,
                                        ") d WHERE d.coalesce LIKE '%", secret, "%'")),
              0);
  }
  EXPECT_EQ(db_.QueryInt(absl::StrCat("SELECT count(*) FROM (", dump,
                                      ") d WHERE d.coalesce LIKE '%ops-alice%'")),
            1);  // the dump reads the tables
}

}  // namespace
}  // namespace sluice::testing
