// Issue 13: Sluice's flags compiled to flagd's flag-configuration JSON. The
// decisions themselves are checked against the real OpenFeature evaluators in
// tests/openfeature; these tests pin the rules' shape and the schedule's instants.
#include "flags/flagd_configuration.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/proto_time.h"
#include "flags/bucketing.h"
#include "flags/flag_schedule.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/fakes/runfiles.h"

namespace sluice::flags {
namespace {

v1::Flag Flag(const std::string& salt, std::vector<std::pair<absl::Time, uint32_t>> changes) {
  v1::Flag f;
  f.set_name("kafka-ingest");
  f.set_salt(salt);
  f.set_version(7);
  for (const auto& [t, bp] : changes) {
    v1::PercentageChange* c = f.add_schedule();
    *c->mutable_effective_time() = ToProtoTimestamp(t);
    c->set_basis_points(bp);
  }
  return f;
}

constexpr char kItemMs[] = R"({"$ref":"sluiceItemMs"})";

TEST(FlagdConfigurationTest, AFlagWithoutScheduleIsLegacyForEveryKeyedItem) {
  EXPECT_EQ(FlagdTargeting(Flag("s", {})),
            R"({"if":[{"==":[{"var":"routing_key"},null]},null,"legacy"]})");
}

// Before each change's instant (rounded up to the millisecond) the percentage
// before it; 0% and 100% name the variant; fractional weights are basis points.
TEST(FlagdConfigurationTest, TheScheduleBecomesNestedIfsOnTheItemsMillisecond) {
  const absl::Time t1 = absl::FromUnixMicros(1'700'000'000'000'500);  // .5 ms past
  const absl::Time t2 = absl::FromUnixSeconds(1'700'000'100);
  const std::string got = FlagdTargeting(Flag("kafka-ingest", {{t1, 3750}, {t2, 10000}}));
  EXPECT_EQ(
      got,
      absl::StrCat(
          R"({"if":[{"==":[{"var":"routing_key"},null]},null,{"if":[{"<":[)", kItemMs,
          R"(,1700000000001]},"legacy",{"<":[)", kItemMs,
          R"(,1700000100000]},{"fractional":[{"cat":["kafka-ingest",":",{"var":"routing_key"}]},["kafka",3750],["legacy",6250]]},"kafka"]}]})"));
}

// Changes that end in the same millisecond, or leave the percentage as it was,
// are one step: the later in the list wins, as FlagSchedule decides.
TEST(FlagdConfigurationTest, ChangesWithinOneMillisecondAndEqualNeighboursMerge) {
  const absl::Time t = absl::FromUnixMillis(1'000);
  const std::string got = FlagdTargeting(Flag("s", {{t + absl::Microseconds(100), 500},
                                                    {t + absl::Microseconds(900), 2500},
                                                    {t + absl::Seconds(1), 2500},
                                                    {t + absl::Seconds(2), 0}}));
  EXPECT_EQ(
      got,
      absl::StrCat(
          R"({"if":[{"==":[{"var":"routing_key"},null]},null,{"if":[{"<":[)", kItemMs,
          R"(,1001]},"legacy",{"<":[)", kItemMs,
          R"(,3000]},{"fractional":[{"cat":["s",":",{"var":"routing_key"}]},["kafka",2500],["legacy",7500]]},"legacy"]}]})"));
}

TEST(FlagdConfigurationTest, TheDocumentIsJsonWithEveryFlag) {
  v1::FlagSnapshot snapshot;
  snapshot.set_revision(42);
  *snapshot.add_flags() = Flag("quote\" and \\ and \x01", {{absl::FromUnixSeconds(5), 5000}});
  v1::Flag other = Flag("o", {});
  other.set_name("other");
  *snapshot.add_flags() = other;
  const std::string json = FlagdConfiguration(snapshot);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  int64_t revision = 0;
  ASSERT_EQ(doc["metadata"]["sluiceRevision"].get(revision), simdjson::SUCCESS);
  EXPECT_EQ(revision, 42);
  simdjson::dom::object flags;
  ASSERT_EQ(doc["flags"].get(flags), simdjson::SUCCESS);
  EXPECT_EQ(flags.size(), 2u);
  std::string_view state, default_variant, kafka, salt;
  ASSERT_EQ(doc["flags"]["kafka-ingest"]["state"].get(state), simdjson::SUCCESS);
  EXPECT_EQ(state, "ENABLED");
  ASSERT_EQ(doc["flags"]["kafka-ingest"]["defaultVariant"].get(default_variant), simdjson::SUCCESS);
  EXPECT_EQ(default_variant, "legacy");
  ASSERT_EQ(doc["flags"]["kafka-ingest"]["variants"]["kafka"].get(kafka), simdjson::SUCCESS);
  EXPECT_EQ(kafka, "kafka");
  // The salt survives the escaping as it is hashed.
  ASSERT_EQ(doc["flags"]["kafka-ingest"]["targeting"]["if"]
                .at(2)["if"]
                .at(2)["fractional"]
                .at(0)["cat"]
                .at(0)
                .get(salt),
            simdjson::SUCCESS);
  EXPECT_EQ(salt, "quote\" and \\ and \x01");
  int64_t version = 0;
  ASSERT_EQ(doc["flags"]["other"]["metadata"]["sluiceVersion"].get(version), simdjson::SUCCESS);
  EXPECT_EQ(version, 7);
  // The item-time rule, defined once for every flag's {"$ref":"sluiceItemMs"}.
  simdjson::dom::element item_ms;
  ASSERT_EQ(doc["$evaluators"]["sluiceItemMs"].get(item_ms), simdjson::SUCCESS);
  EXPECT_EQ(simdjson::minify(item_ms), FlagdItemMsRule());
  EXPECT_EQ(FlagdItemMsRule(),
            R"({"if":[{"==":[{"var":"item_ts_ms"},null]},{"*":[{"var":"$flagd.timestamp"},1000]},)"
            R"({"var":"item_ts_ms"}]})");
}

using ::sluice::testing::ReadFile;
using ::sluice::testing::Runfile;

// The bucketing vectors in flagd's form (flags/testdata/bucketing_vectors.flagd.json:
// one flag per vector; bucketing_vectors.cases.json: its context and the variant
// Sluice decides), so any OpenFeature evaluator can be checked against them. The
// files are what this compiler makes of bucketing_vectors.tsv; a failure writes
// the current ones to the test's undeclared outputs.
TEST(FlagdConfigurationTest, TheCheckedInFlagdVectorsAreTheCompiledTsv) {
  std::ifstream in(Runfile("flags/testdata/bucketing_vectors.tsv"));
  ASSERT_TRUE(in.good());
  v1::FlagSnapshot snapshot;
  snapshot.set_revision(1);
  std::string cases = "[\n";
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    ASSERT_EQ(f.size(), 5u);
    uint32_t bp = 0, bucket = 0;
    ASSERT_TRUE(absl::SimpleAtoi(f[2], &bp));
    ASSERT_TRUE(absl::SimpleAtoi(f[3], &bucket));
    // One change at the Unix epoch: items from then on are at bp.
    v1::Flag flag = Flag(f[0], {{absl::UnixEpoch(), bp}});
    flag.set_name(absl::StrCat("vector-", ++n));
    flag.set_version(1);
    *snapshot.add_flags() = flag;
    const bool kafka = InRollout(RolloutBucket(f[0], f[1]), bp);
    bool ascii = true;
    for (char c : f[0] + f[1]) ascii &= static_cast<unsigned char>(c) < 0x80;
    std::string key_json;
    for (char c : f[1])
      key_json += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    absl::StrAppend(&cases, n == 1 ? "" : ",\n", R"(  {"flag":"vector-)", n,
                    R"(","context":{"routing_key":")", key_json,
                    R"(","item_ts_ms":1700000000000},"variant":")", kafka ? "kafka" : "legacy",
                    R"(","bucket":)", bucket, R"(,"ascii":)", ascii ? "true" : "false", "}");
  }
  cases += "\n]\n";
  const std::string config = FlagdConfiguration(snapshot) + "\n";
  const std::string checked_config =
      ReadFile(Runfile("flags/testdata/bucketing_vectors.flagd.json"));
  const std::string checked_cases =
      ReadFile(Runfile("flags/testdata/bucketing_vectors.cases.json"));
  if (config != checked_config || cases != checked_cases) {
    if (const char* out = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR")) {
      std::ofstream(absl::StrCat(out, "/bucketing_vectors.flagd.json")) << config;
      std::ofstream(absl::StrCat(out, "/bucketing_vectors.cases.json")) << cases;
    }
  }
  EXPECT_EQ(config, checked_config) << "copy it from the test's outputs (outputs.zip)";
  EXPECT_EQ(cases, checked_cases);
  EXPECT_GT(n, 20);
}

}  // namespace
}  // namespace sluice::flags
