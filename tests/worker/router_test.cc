#include "worker/router.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "flags/bucketing.h"
#include "flags/routing_key.h"
#include "gtest/gtest.h"
#include "worker/json_reader.h"
#include "worker/json_routing_key.h"

namespace sluice::worker {
namespace {

v1::Rollout JsonRollout(v1::RoutingKeyForm form) {
  v1::Rollout r;
  r.set_flag("kafka-ingest");
  r.set_json_field("k");
  r.set_key_form(form);
  r.set_skip(true);
  return r;
}

std::string Key(v1::RoutingKeyForm form, std::string payload) {
  Message m;
  m.payload = std::move(payload);
  return RoutingKey(JsonRollout(form), m);
}

// The RAW_JSON key, checked to be the same from the worker's one pass over the
// payload (RawJsonKeyOf, the routing field read beside a mapping's pointers).
std::string Raw(std::string payload) {
  const std::string key = Key(v1::ROUTING_KEY_FORM_RAW_JSON, payload);
  for (const std::vector<std::vector<std::string>>& pointers :
       {std::vector<std::vector<std::string>>{{"k"}},
        std::vector<std::vector<std::string>>{{"a"}, {"k", "x"}, {"0"}, {"k"}}}) {
    JsonRead read;
    read.syntax = ReadJson(payload, JsonPointerSet(pointers), &read.spans);
    EXPECT_EQ(RawJsonKeyOf(payload, read, pointers.size() - 1), key) << payload;
  }
  return key;
}

TEST(RoutingKeyTest, RawFormKeepsEveryNumberSpellingAsWritten) {
  EXPECT_EQ(Raw(R"({"k":1.5e3})"), "1.5e3");
  EXPECT_EQ(Raw(R"({"k":1500})"), "1500");
  EXPECT_EQ(Raw(R"({"k":-0})"), "-0");
  EXPECT_EQ(Raw(R"({"k":1E+3})"), "1E+3");
  EXPECT_EQ(Raw(R"({"k":3.0})"), "3.0");
  EXPECT_EQ(Raw(R"({"k":0.1})"), "0.1");
  EXPECT_EQ(Raw(R"({"k":18446744073709551615})"), "18446744073709551615");
  EXPECT_EQ(Raw(R"({"k":-9223372036854775808})"), "-9223372036854775808");
  EXPECT_EQ(Raw(R"({"k":1234567890123456789012345})"), "1234567890123456789012345");
  EXPECT_EQ(Raw(R"({"k":1e400})"), "1e400");
  // The value's own bytes: no whitespace around it, and one spelling never
  // collides with another.
  EXPECT_EQ(Raw("{ \"k\" :\t 1.5e3\n , \"x\": 1 }"), "1.5e3");
  EXPECT_NE(Raw(R"({"k":1500})"), Raw(R"({"k":1.5e3})"));
}

TEST(RoutingKeyTest, RawFormKeepsObjectsArraysAndLiteralsWithInnerWhitespace) {
  EXPECT_EQ(Raw(R"({"k":{"b": 1, "a" :[1, 2.50]}})"), R"({"b": 1, "a" :[1, 2.50]})");
  EXPECT_EQ(Raw(R"({"k":{"b":1,"a":[1,2.50]}})"), R"({"b":1,"a":[1,2.50]})");
  EXPECT_EQ(Raw(R"({"k": [ ] })"), "[ ]");
  EXPECT_EQ(Raw(R"({"k":[[{"x":[null,"a\"b"]}],{}]})"), R"([[{"x":[null,"a\"b"]}],{}])");
  EXPECT_EQ(Raw(R"({"k":true})"), "true");
  EXPECT_EQ(Raw(R"({"k":false})"), "false");
  EXPECT_EQ(Raw(R"({"k":null})"), "null");
}

TEST(RoutingKeyTest, RawFormDecodesStringsAndMemberNames) {
  EXPECT_EQ(Raw(R"({"k":"p-17"})"), "p-17");
  EXPECT_EQ(Raw(R"({"k":"s\u00e9\n\/\\"})"), "s\xc3\xa9\n/\\");
  EXPECT_EQ(Raw(R"({"k":"\ud83d\ude00"})"), "\xf0\x9f\x98\x80");
  EXPECT_EQ(Raw(R"({"\u006b":"escaped name"})"), "escaped name");
  EXPECT_EQ(Raw(R"({"k":""})"), "");
  // Of duplicate names the last counts, as in jsonb, Python and JavaScript.
  EXPECT_EQ(Raw(R"({"k":1,"k":2})"), "2");
}

TEST(RoutingKeyTest, RawFormGivesEmptyKeyForWhatIsNotAJsonObjectWithTheField) {
  for (const std::string& payload : std::vector<std::string>{
           "", "   ", R"([1])", R"("k")", R"({"x":1})", R"({"k":01})", R"({"k":1.})",
           R"({"k":.5})", R"({"k":+1})", R"({"k":1e})", R"({"k":1,})", R"({"k":[1,]})",
           R"({"k":1} x)", R"({"k":tru})", R"({"k":"\ud800"})", R"({"k":"\udc00x"})",
           R"({"k":"\x"})", "{\"k\":\"a\tb\"}", "{\"k\":\"\xff\"}", "\xef\xbb\xbf{\"k\":1}",
           R"({"k":{"a" 1}})", R"({'k':1})", R"({"k":NaN})", R"({"k":[1} })"}) {
    EXPECT_EQ(Raw(payload), "") << payload;
  }
  Message no_payload;
  EXPECT_EQ(RoutingKey(JsonRollout(v1::ROUTING_KEY_FORM_RAW_JSON), no_payload), "");
}

TEST(RoutingKeyTest, RawFormReadsDeepNestingWithoutRecursion) {
  const int depth = 200000;
  std::string payload = "{\"k\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  EXPECT_EQ(Raw(payload).size(), 2u * depth);
  payload.pop_back();
  payload.pop_back();
  EXPECT_EQ(Raw(payload + "}"), "");
}

// Keys and buckets computed by the worker before key forms existed (recorded from
// commit 51fb9f2): pipelines stored without a key_form, or with MINIFIED, must
// keep every item on the path it had.
TEST(RoutingKeyTest, OldFormPipelinesKeepExactlyTheirOldKeysAndBuckets) {
  struct Golden {
    const char* payload;
    const char* key;
    uint32_t bucket;
  };
  const Golden golden[] = {
      {R"({"k":1.5e3})", "1500.0", 7982},
      {R"({"k":1500})", "1500", 9415},
      {R"({"k":-0})", "0", 4550},
      {R"({"k":1E+3})", "1000.0", 868},
      {R"({"k":0.1})", "0.1", 3316},
      {R"({"k":3.0})", "3.0", 3005},
      {R"({"k":18446744073709551615})", "18446744073709551615", 4601},
      {R"({"k":-9223372036854775808})", "-9223372036854775808", 6023},
      {R"({"k":12345678901234567890})", "12345678901234567890", 8082},
      {R"({"k":1234567890123456789012345})", "", 7507},
      {R"({"k":1e400})", "", 7507},
      {R"({"k":{"b": 1, "a" :[1, 2.50]}})", R"({"b":1,"a":[1,2.5]})", 8604},
      {R"({"k": [ ] })", "[]", 9903},
      {R"({"k":true})", "true", 5740},
      {R"({"k":null})", "null", 6153},
      {R"({"k":"s\u00e9"})", "s\xc3\xa9", 2940},
      {R"({"k":1,"k":2})", "1", 2310},
      {R"([1])", "", 7507},
  };
  for (v1::RoutingKeyForm form : {v1::ROUTING_KEY_FORM_UNSPECIFIED, v1::ROUTING_KEY_FORM_MINIFIED}) {
    for (const Golden& g : golden) {
      const std::string key = Key(form, g.payload);
      EXPECT_EQ(key, g.key) << g.payload;
      EXPECT_EQ(flags::RolloutBucket("kafka-ingest", key), g.bucket) << g.payload;
    }
  }
}

TEST(RoutingKeyTest, FormsDisagreeOnNumbersSoTheFormBelongsToThePipeline) {
  EXPECT_NE(flags::RolloutBucket("kafka-ingest", Key(v1::ROUTING_KEY_FORM_MINIFIED, R"({"k":1.5e3})")),
            flags::RolloutBucket("kafka-ingest", Raw(R"({"k":1.5e3})")));
  // Where both forms give the same text (strings, plain integers), so do buckets.
  EXPECT_EQ(Key(v1::ROUTING_KEY_FORM_MINIFIED, R"({"k":1500})"), Raw(R"({"k":1500})"));
  EXPECT_EQ(Key(v1::ROUTING_KEY_FORM_MINIFIED, R"({"k":"p-1"})"), Raw(R"({"k":"p-1"})"));
}

TEST(RoutingKeyTest, KafkaKeyIgnoresTheForm) {
  v1::Rollout r;
  r.set_kafka_key(true);
  r.set_key_form(v1::ROUTING_KEY_FORM_RAW_JSON);
  Message m;
  m.payload = R"({"k":1})";
  EXPECT_EQ(RoutingKey(r, m), "");
  m.key = "p-9";
  EXPECT_EQ(RoutingKey(r, m), "p-9");
}

TEST(CheckRoutableTest, RefusesAKeyFormThisBuildDoesNotKnow) {
  v1::Rollout r = JsonRollout(static_cast<v1::RoutingKeyForm>(7));
  const absl::Status s = CheckRoutable(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "rollout.key_form 7 is not supported by this worker build; upgrade the worker");
  EXPECT_TRUE(CheckRoutable(JsonRollout(v1::ROUTING_KEY_FORM_RAW_JSON)).ok());
  EXPECT_TRUE(CheckRoutable(JsonRollout(v1::ROUTING_KEY_FORM_UNSPECIFIED)).ok());
  r.set_kafka_key(true);
  EXPECT_TRUE(CheckRoutable(r).ok());
  EXPECT_EQ(flags::ExtraKeyForms(), std::vector<v1::RoutingKeyForm>{v1::ROUTING_KEY_FORM_RAW_JSON});
}

// The flag at `basis_points` from `since` (0 before).
std::shared_ptr<const flags::FlagSchedule> Since(absl::Time since, uint32_t basis_points) {
  v1::Flag f;
  f.set_name("kafka-ingest");
  f.set_salt("kafka-ingest");
  f.set_version(3);
  v1::PercentageChange* c = f.add_schedule();
  c->mutable_effective_time()->set_seconds(absl::ToUnixSeconds(since));
  c->set_basis_points(basis_points);
  return std::make_shared<const flags::FlagSchedule>(f);
}

std::shared_ptr<const flags::FlagSchedule> FullSince(absl::Time since) {
  return Since(since, flags::kFullRollout);
}

std::shared_ptr<const flags::FlagSchedule> HalfSince(absl::Time since) {
  return Since(since, flags::kFullRollout / 2);
}

// Issue 11: a RAW_JSON rollout reads the payload once, for its routing key and the
// column mapping's pointers, and leaves that reading on the message for the sink;
// items land on the path their key gives, as every other evaluator computes it.
TEST(RouterTest, ARawJsonRolloutReadsThePayloadOnceForTheKeyAndTheMapping) {
  const absl::Time change = absl::FromUnixSeconds(1700000000);
  Router router(JsonRollout(v1::ROUTING_KEY_FORM_RAW_JSON), HalfSince(change), {{"n"}, {"m", "0"}});
  router.ExtendKnownUntil(3, absl::InfiniteFuture(), kDefaultScheduleHoldLimit);
  int kafka = 0;
  for (int i = 0; i < 400; ++i) {
    Message m;
    m.timestamp = change + absl::Seconds(1);
    m.payload = i % 2 == 0 ? absl::StrCat(R"({"n": )", i, R"(, "m": ["x"], "k": "p-)", i, "\"}")
                           : absl::StrCat(R"({"k": )", i, ".0, \"n\": [", i, "]}");
    ASSERT_EQ(router.Route(&m), Router::Timestamp::kInSchedule);
    const bool expected = flags::InRollout(
        flags::RolloutBucket("kafka-ingest",
                             RoutingKey(JsonRollout(v1::ROUTING_KEY_FORM_RAW_JSON), m)),
        flags::kFullRollout / 2);
    EXPECT_EQ(m.path == Path::kKafka, expected) << *m.payload;
    kafka += m.path == Path::kKafka;
    ASSERT_TRUE(m.json.has_value());
    ASSERT_TRUE(m.json->syntax.ok());
    ASSERT_EQ(m.json->spans.size(), 3u);
    const JsonSpan& n = m.json->spans[0];
    ASSERT_TRUE(n.found);
    EXPECT_EQ(m.payload->substr(n.begin, n.end - n.begin),
              i % 2 == 0 ? absl::StrCat(i) : absl::StrCat("[", i, "]"));
    EXPECT_EQ(m.json->spans[1].found, i % 2 == 0);
  }
  EXPECT_GT(kafka, 150);
  EXPECT_LT(kafka, 250);
  // Invalid JSON: the verdict travels too, and the key is "".
  Message bad;
  bad.timestamp = change;
  bad.payload = R"({"k": 1,})";
  router.Route(&bad);
  ASSERT_TRUE(bad.json.has_value());
  EXPECT_FALSE(bad.json->syntax.ok());
  // Keys from the Kafka key or in MINIFIED form read no payload here.
  for (v1::Rollout rollout : {JsonRollout(v1::ROUTING_KEY_FORM_MINIFIED), v1::Rollout()}) {
    if (!rollout.has_json_field()) rollout.set_kafka_key(true);
    Router other(rollout, HalfSince(change), {{"n"}});
    other.ExtendKnownUntil(3, absl::InfiniteFuture(), kDefaultScheduleHoldLimit);
    Message m;
    m.timestamp = change;
    m.payload = R"({"k": 1, "n": 2})";
    other.Route(&m);
    EXPECT_FALSE(m.json.has_value());
  }
}

TEST(RouterTest, ItemWithoutTimestampTakesTheLegacyPathWheneverItIsProcessed) {
  const absl::Time change = absl::FromUnixSeconds(1700000000);
  Router router(JsonRollout(v1::ROUTING_KEY_FORM_RAW_JSON), FullSince(change));
  router.ExtendKnownUntil(3, absl::InfiniteFuture(), kDefaultScheduleHoldLimit);
  Message m;
  m.payload = R"({"k":1.5e3})";
  // Before this rule the processing time stood in: kafka after the change, legacy
  // before it, so a re-read could move the item. Now no clock is consulted.
  for (int pass = 0; pass < 2; ++pass) {
    m.path = Path::kKafka;
    EXPECT_EQ(router.Route(&m), Router::Timestamp::kMissing);
    EXPECT_EQ(m.path, Path::kLegacy);
  }
  m.timestamp = change;
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kInSchedule);
  EXPECT_EQ(m.path, Path::kKafka);
  m.timestamp = change - absl::Milliseconds(1);
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kInSchedule);
  EXPECT_EQ(m.path, Path::kLegacy);
}

// Issue 8: an item older than a compacted schedule is routed by the percentage
// in effect before the oldest kept change and reported, so the operator sees what
// a too-short retention changed.
TEST(RouterTest, AnItemOlderThanTheKeptScheduleIsRoutedByItsOldestChangeAndReported) {
  const absl::Time change = absl::FromUnixSeconds(1700000000);
  v1::Flag f;
  f.set_name("kafka-ingest");
  f.set_salt("kafka-ingest");
  for (const auto& [at, bp] : std::vector<std::pair<absl::Time, uint32_t>>{
           {change - absl::Hours(3), 0}, {change - absl::Hours(2), flags::kFullRollout},
           {change - absl::Hours(1), 0}, {change, flags::kFullRollout}}) {
    v1::PercentageChange* c = f.add_schedule();
    c->mutable_effective_time()->set_seconds(absl::ToUnixSeconds(at));
    c->set_basis_points(bp);
  }
  ASSERT_EQ(flags::CompactSchedule(change - absl::Minutes(30), &f), 1);
  Router router(JsonRollout(v1::ROUTING_KEY_FORM_RAW_JSON),
                std::make_shared<const flags::FlagSchedule>(f));
  router.ExtendKnownUntil(0, absl::InfiniteFuture(), kDefaultScheduleHoldLimit);
  Message m;
  m.payload = R"({"k":"a"})";
  // Kept from change − 2h on (the change before the one in effect at the cut).
  m.timestamp = change - absl::Hours(2) - absl::Minutes(30);
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kBeforeKeptSchedule);
  EXPECT_EQ(m.path, Path::kKafka);
  m.timestamp = change - absl::Minutes(30);
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kInSchedule);
  EXPECT_EQ(m.path, Path::kLegacy);
  m.timestamp = change + absl::Seconds(1);
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kInSchedule);
  m.timestamp.reset();
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kMissing);
  EXPECT_EQ(m.path, Path::kLegacy);
}

// Issue 10: the propagation lead is a guarantee. A router routes an item only when
// its timestamp lies within the schedule the controller said is complete; until
// the first horizon it knows nothing beyond the beginning of time.
TEST(RouterTest, AnItemBeyondTheKnownScheduleIsNotRouted) {
  const absl::Time change = absl::FromUnixSeconds(1700000000);
  Router router(JsonRollout(v1::ROUTING_KEY_FORM_RAW_JSON), FullSince(change));  // version 3
  Message m;
  m.payload = R"({"k":"a"})";
  m.timestamp = change - absl::Hours(1);
  m.path = Path::kKafka;
  EXPECT_EQ(router.known_until(), absl::InfinitePast());
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kBeyondKnownSchedule);
  EXPECT_EQ(m.path, Path::kKafka) << "untouched: not routed";
  // Without a timestamp an item is decided as of the beginning of time, always known.
  Message untimed = m;
  untimed.timestamp.reset();
  EXPECT_EQ(router.Route(&untimed), Router::Timestamp::kMissing);
  EXPECT_EQ(untimed.path, Path::kLegacy);

  // A horizon for a version newer than the one held does not apply to it.
  router.ExtendKnownUntil(4, change, absl::Seconds(30));
  EXPECT_EQ(router.known_until(), absl::InfinitePast());
  EXPECT_EQ(router.hold_limit(), kDefaultScheduleHoldLimit);
  router.ExtendKnownUntil(3, change, absl::Seconds(30));
  EXPECT_EQ(router.known_until(), change);
  EXPECT_EQ(router.hold_limit(), absl::Seconds(30));
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kInSchedule);
  EXPECT_EQ(m.path, Path::kLegacy);
  m.timestamp = change;
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kInSchedule) << "at the horizon is known";
  EXPECT_EQ(m.path, Path::kKafka);
  m.timestamp = change + absl::Milliseconds(1);
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kBeyondKnownSchedule);
  // Never back; a newer schedule keeps the horizon (it agrees up to it).
  router.ExtendKnownUntil(3, change - absl::Minutes(1), absl::Seconds(30));
  EXPECT_EQ(router.known_until(), change);
  v1::Flag next;
  next.set_name("kafka-ingest");
  next.set_salt("kafka-ingest");
  next.set_version(5);
  router.SetSchedule(std::make_shared<const flags::FlagSchedule>(next));
  EXPECT_EQ(router.known_until(), change);
  router.ExtendKnownUntil(4, change + absl::Seconds(1), absl::Seconds(30));
  EXPECT_EQ(router.Route(&m), Router::Timestamp::kInSchedule) << "version 5 >= 4";
}

TEST(RouterTest, EvaluateItemWithoutTimestampIsTheFlagBeforeItsFirstChange) {
  auto schedule = FullSince(absl::UnixEpoch());
  const flags::Evaluation e = schedule->EvaluateItem("k", std::nullopt);
  EXPECT_FALSE(e.in_rollout);
  EXPECT_EQ(e.basis_points, 0u);
  EXPECT_EQ(e.bucket, flags::RolloutBucket("kafka-ingest", "k"));
  EXPECT_TRUE(schedule->EvaluateItem("k", absl::UnixEpoch()).in_rollout);
}

}  // namespace
}  // namespace sluice::worker
