#include "controller/admin_request_checks.h"

#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::controller {
namespace {

struct Case {
  std::function<absl::Status()> check;
  std::string message;  // empty: OK
};

void ExpectAll(const std::vector<Case>& cases) {
  for (const Case& k : cases) {
    absl::Status s = k.check();
    if (k.message.empty()) {
      EXPECT_TRUE(s.ok()) << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << k.message;
      EXPECT_EQ(s.message(), k.message);
    }
  }
}

v1::CreateFlagRequest Flag(std::string name, std::string description, std::string salt) {
  v1::CreateFlagRequest r;
  r.set_name(std::move(name));
  r.set_description(std::move(description));
  r.set_salt(std::move(salt));
  return r;
}

TEST(AdminRequestChecksTest, LookupNamesAreBounded) {
  ExpectAll({
      {[] { return CheckNameArg("name", "items"); }, ""},
      {[] { return CheckNameArg("name", std::string(63, 'a')); }, ""},
      {[] { return CheckNameArg("name", ""); }, "name: must not be empty"},
      {[] { return CheckNameArg("pipeline", std::string(64, 'a')); },
       "pipeline: must be at most 63 bytes (got 64)"},
      {[] { return CheckNameArg("name", std::string(1 << 20, 'a')); },
       "name: must be at most 63 bytes (got 1048576)"},
      {[] { return CheckWorkerIdArg("worker_id", "host-1.example"); }, ""},
      {[] { return CheckWorkerIdArg("worker_id", ""); }, "worker_id: must not be empty"},
      {[] { return CheckWorkerIdArg("worker_id", std::string(64, 'w')); },
       "worker_id: must be at most 63 bytes (got 64)"},
  });
}

TEST(AdminRequestChecksTest, CreateFlagFieldsAreBounded) {
  ExpectAll({
      {[] { return CheckCreateFlagRequest(Flag("kafka-ingest", "d", "")); }, ""},
      {[] {
         return CheckCreateFlagRequest(
             Flag(std::string(63, 'f'), std::string(1024, 'd'), std::string(63, 's')));
       },
       ""},
      {[] { return CheckCreateFlagRequest(Flag(std::string(64, 'f'), "", "")); },
       "name: must be at most 63 bytes (got 64)"},
      {[] { return CheckCreateFlagRequest(Flag("Bad!", "", "")); },
       "name: 'Bad!' must be 1-63 of a-z, 0-9, - and _, starting with a letter or digit"},
      {[] { return CheckCreateFlagRequest(Flag("f", std::string(1025, 'd'), "")); },
       "description: must be at most 1024 bytes (got 1025)"},
      {[] { return CheckCreateFlagRequest(Flag("f", "", std::string(64, 's'))); },
       "salt: must be at most 63 bytes (got 64)"},
  });
}

// Found by fuzz/admin_request_fuzzer: a NUL passed the checks, and storing the flag
// (jsonb, where it is the escape \u0000) failed as INTERNAL with the database's error.
TEST(AdminRequestChecksTest, CreateFlagRefusesNulBytes) {
  ExpectAll({
      {[] { return CheckCreateFlagRequest(Flag("f", std::string("a\0b", 3), "")); },
       "description: must not contain a NUL byte"},
      {[] { return CheckCreateFlagRequest(Flag("f", "", std::string("\0", 1))); },
       "salt: must not contain a NUL byte"},
  });
}

// Issue 13: flagd's JavaScript evaluator hashes UTF-16 code units where Sluice
// hashes UTF-8 bytes; they agree on ASCII only, so a salt is printable ASCII.
TEST(AdminRequestChecksTest, CreateFlagSaltIsPrintableAscii) {
  const std::string refused =
      "salt: must be printable ASCII: OpenFeature evaluators hash non-ASCII text differently "
      "(docs/OPENFEATURE.md)";
  ExpectAll({
      {[] { return CheckCreateFlagRequest(Flag("f", "", "kafka ingest:2026 ~!")); }, ""},
      {[] { return CheckCreateFlagRequest(Flag("f", "", "caf\xc3\xa9")); }, refused},
      {[] { return CheckCreateFlagRequest(Flag("f", "", "tab\there")); }, refused},
      {[] { return CheckCreateFlagRequest(Flag("f", "", "del\x7f")); }, refused},
  });
}

TEST(AdminRequestChecksTest, AuditTargetIsBounded) {
  auto audit = [](std::string target) {
    v1::ListAuditRequest r;
    r.set_target(std::move(target));
    return CheckListAuditRequest(r);
  };
  ExpectAll({
      {[&] { return audit(""); }, ""},
      {[&] { return audit(std::string(63, 't')); }, ""},
      {[&] { return audit(std::string(64, 't')); }, "target: must be at most 63 bytes (got 64)"},
  });
}

TEST(AdminRequestChecksTest, ResetOffsetsNamesAreBounded) {
  auto reset = [](std::string pipeline, std::string topic) {
    v1::ResetOffsetsRequest r;
    r.set_pipeline(std::move(pipeline));
    r.set_topic(std::move(topic));
    return CheckResetOffsetsRequest(r);
  };
  ExpectAll({
      {[&] { return reset("items", "items.v1"); }, ""},
      {[&] { return reset(std::string(64, 'p'), "items"); },
       "pipeline: must be at most 63 bytes (got 64)"},
      {[&] { return reset("items", std::string(250, 't')); },
       "topic: must be at most 249 bytes (got 250)"},
      {[&] { return reset("items", "a b"); },
       "topic: 'a b' is not a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)"},
  });
}

}  // namespace
}  // namespace sluice::controller
