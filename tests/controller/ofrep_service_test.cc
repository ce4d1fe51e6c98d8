// Issue 13: OFREP on the controller's HTTP port. Decisions are Sluice's own
// (FlagSchedule); what is checked here is the protocol: methods, paths, the
// context, errors with OFREP's codes, and who may ask.
#include "controller/ofrep_service.h"

#include "common/proto_time.h"
#include "flags/flag_schedule.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::ManualClock;

constexpr char kReader[] = "Bearer r-0123456789abcdef";
constexpr char kWorker[] = "Bearer w-0123456789abcdef";

class OfrepServiceTest : public ::testing::Test {
 protected:
  OfrepServiceTest() {
    v1::Flag f;
    f.set_name("kafka-ingest");
    f.set_salt("kafka-ingest");
    f.set_version(3);
    v1::PercentageChange* c = f.add_schedule();
    *c->mutable_effective_time() = ToProtoTimestamp(absl::FromUnixSeconds(1'700'000'000));
    c->set_basis_points(3750);
    c = f.add_schedule();
    *c->mutable_effective_time() = ToProtoTimestamp(absl::FromUnixSeconds(1'750'000'000));
    c->set_basis_points(10000);
    flag_ = f;
    fleet_.SetFlags({f});
  }

  HttpServer::Response Post(const std::string& path, const std::string& body,
                            std::optional<std::string> token = kReader,
                            const std::string& peer = "ipv4:127.0.0.1:5000") {
    return service_.Handle({"POST", path, std::move(token), peer, body});
  }

  // The decision Sluice's workers make.
  std::string Expected(const std::string& key, absl::Time at) {
    return flags::FlagSchedule(flag_).Evaluate(key, at).in_rollout ? "kafka" : "legacy";
  }

  ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  Fleet fleet_{clock_, {}, nullptr};
  std::shared_ptr<const TokenTable> tokens_ = std::make_shared<const TokenTable>(
      *TokenTable::Parse("reader read r-0123456789abcdef\nworker-a worker w-0123456789abcdef\n"));
  CallAuthorizer auth_{{tokens_}};
  absl::Status fresh_ = absl::OkStatus();
  OfrepService service_{&fleet_, clock_, auth_, {}, [this] { return fresh_; }};
  v1::Flag flag_;
};

TEST_F(OfrepServiceTest, EvaluatesOneFlagForTheItemsTime) {
  int kafka = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string key = absl::StrCat("project-", i);
    // In the 37.5% segment, by the item's own millisecond.
    HttpServer::Response r =
        Post("/ofrep/v1/evaluate/flags/kafka-ingest",
             absl::StrCat(R"({"context":{"targetingKey":"ignored","routing_key":")", key,
                          R"(","item_ts_ms":1720000000000}})"));
    ASSERT_EQ(r.code, 200) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
    std::string_view value, variant, reason, name;
    ASSERT_EQ(doc["value"].get(value), simdjson::SUCCESS);
    ASSERT_EQ(doc["variant"].get(variant), simdjson::SUCCESS);
    ASSERT_EQ(doc["reason"].get(reason), simdjson::SUCCESS);
    ASSERT_EQ(doc["key"].get(name), simdjson::SUCCESS);
    EXPECT_EQ(value, Expected(key, absl::FromUnixMillis(1720000000000)));
    EXPECT_EQ(variant, value);
    EXPECT_EQ(reason, "SPLIT");
    EXPECT_EQ(name, "kafka-ingest");
    int64_t bp = 0;
    ASSERT_EQ(doc["metadata"]["basisPoints"].get(bp), simdjson::SUCCESS);
    EXPECT_EQ(bp, 3750);
    kafka += value == "kafka";
  }
  EXPECT_GT(kafka, 40);
  EXPECT_LT(kafka, 120);
}

TEST_F(OfrepServiceTest, WithoutATimeItIsNowAndTargetingKeyIsTheRoutingKey) {
  // Now is after the 100% change.
  HttpServer::Response r =
      Post("/ofrep/v1/evaluate/flags/kafka-ingest", R"({"context":{"targetingKey":"k"}})");
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_NE(r.body.find(R"("value":"kafka")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("reason":"TARGETING_MATCH")"), std::string::npos) << r.body;
  // Before the first change: 0%.
  r = Post("/ofrep/v1/evaluate/flags/kafka-ingest",
           R"({"context":{"targetingKey":"k","item_ts_ms":1600000000000}})");
  EXPECT_NE(r.body.find(R"("value":"legacy")"), std::string::npos) << r.body;
}

TEST_F(OfrepServiceTest, BulkEvaluatesEveryFlag) {
  HttpServer::Response r = Post("/ofrep/v1/evaluate/flags", R"({"context":{"targetingKey":"k"}})");
  ASSERT_EQ(r.code, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
  simdjson::dom::array flags;
  ASSERT_EQ(doc["flags"].get(flags), simdjson::SUCCESS);
  EXPECT_EQ(flags.size(), 1u);
}

TEST_F(OfrepServiceTest, ErrorsCarryOfrepCodes) {
  struct Case {
    std::string path, body;
    int code;
    std::string error_code;
  };
  const std::string f = "/ofrep/v1/evaluate/flags/kafka-ingest";
  for (const Case& c : std::vector<Case>{
           {f, "not json", 400, "PARSE_ERROR"},
           {f, "[1]", 400, "PARSE_ERROR"},
           {f, R"({"context":{}})", 400, "TARGETING_KEY_MISSING"},
           {f, "{}", 400, "TARGETING_KEY_MISSING"},
           {f, R"({"context":{"routing_key":7}})", 400, "INVALID_CONTEXT"},
           {f, R"({"context":{"targetingKey":"k","item_ts_ms":"soon"}})", 400, "INVALID_CONTEXT"},
           {f, R"({"context":{"targetingKey":"k","item_ts_ms":1.5}})", 400, "INVALID_CONTEXT"},
           {f, R"({"context":"k"})", 400, "INVALID_CONTEXT"},
           {"/ofrep/v1/evaluate/flags/nope", R"({"context":{"targetingKey":"k"}})", 404,
            "FLAG_NOT_FOUND"},
       }) {
    HttpServer::Response r = Post(c.path, c.body);
    EXPECT_EQ(r.code, c.code) << c.body << " → " << r.body;
    EXPECT_NE(r.body.find(absl::StrCat(R"("errorCode":")", c.error_code, "\"")), std::string::npos)
        << c.body << " → " << r.body;
  }
  HttpServer::Response get = service_.Handle({"GET", f, kReader, "ipv4:127.0.0.1:1", ""});
  EXPECT_EQ(get.code, 405);
  ASSERT_EQ(get.headers.size(), 1u);
  EXPECT_EQ(get.headers[0].first, "Allow");
}

// A read token, as for the Flags service; a token from another machine over the
// plaintext port is refused unless the operator accepted that.
TEST_F(OfrepServiceTest, CallersNeedAReadTokenAndRemoteTokensNeedConsent) {
  const std::string f = "/ofrep/v1/evaluate/flags/kafka-ingest";
  const std::string body = R"({"context":{"targetingKey":"k"}})";
  EXPECT_EQ(Post(f, body, std::nullopt).code, 401);
  EXPECT_EQ(Post(f, body, "Bearer wrong-token-0123456789").code, 401);
  EXPECT_EQ(Post(f, body, kWorker).code, 403);
  EXPECT_EQ(Post(f, body, kReader, "ipv4:10.0.0.5:4000").code, 403);
  EXPECT_EQ(Post(f, body, kReader, "ipv6:%5B::1%5D:4000").code, 200);
  OfrepService consenting(&fleet_, clock_, auth_, {/*allow_plaintext_tokens=*/true}, nullptr);
  EXPECT_EQ(consenting.Handle({"POST", f, kReader, "ipv4:10.0.0.5:4000", body}).code, 200);
  // Refusals come before the body is read (HttpServer calls Admit first).
  EXPECT_TRUE(service_.Admit({"POST", f, std::nullopt, "ipv4:127.0.0.1:1", ""}).has_value());
  EXPECT_FALSE(service_.Admit({"POST", f, kReader, "ipv4:127.0.0.1:1", ""}).has_value());
}

// A replica that cannot read the stored state for longer than allowed does not
// decide on its stale copy: 503, and the SDK falls back to its default.
TEST_F(OfrepServiceTest, AStaleReplicaAnswers503) {
  fresh_ = absl::UnavailableError("controller state may be stale since ...");
  HttpServer::Response r =
      Post("/ofrep/v1/evaluate/flags/kafka-ingest", R"({"context":{"targetingKey":"k"}})");
  EXPECT_EQ(r.code, 503);
  EXPECT_NE(r.body.find("may be stale"), std::string::npos) << r.body;
}

// A flag key that is no flag name is not echoed (the path may hold any bytes).
TEST_F(OfrepServiceTest, AKeyThatIsNoNameIsNotEchoed) {
  HttpServer::Response r =
      Post("/ofrep/v1/evaluate/flags/\xff\x01x", R"({"context":{"targetingKey":"k"}})");
  EXPECT_EQ(r.code, 404);
  EXPECT_EQ(r.body.find('\xff'), std::string::npos);
  EXPECT_NE(r.body.find("FLAG_NOT_FOUND"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace sluice::controller
