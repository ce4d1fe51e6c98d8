// PayloadValidator against the real PostgreSQL: for a corpus of edge cases, the
// validator may refuse a payload only when PostgreSQL refuses it too (issue 7,
// item 3: simdjson's limits sent valid JSON to dead letters). Where the validator
// cannot be sure it accepts, and COPY decides.
#include <libpq-fe.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "tests/fixtures/postgres_server.h"
#include "worker/payload_validator.h"

namespace sluice::worker {
namespace {

using ::sluice::testing::PgDatabase;
using ::sluice::testing::PostgresServer;

constexpr unsigned kTextOid = 25;

// Both accept; both refuse; or only PostgreSQL refuses (the validator could not be
// sure, so COPY decides). "Only the validator refuses" is the bug this test pins.
enum class Verdict { kBothAccept, kBothRefuse, kOnlyPostgresRefuses };

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kBothAccept:
      return "both accept";
    case Verdict::kBothRefuse:
      return "both refuse";
    case Verdict::kOnlyPostgresRefuses:
      return "only postgres refuses";
  }
  return "?";
}

struct Case {
  std::string name;
  std::string payload;
  Verdict expected;
};

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

std::vector<Case> JsonCorpus() {
  const std::string long_string(4 << 20, 'x');
  return {
      {"object", R"({"a": 1, "b": [true, false, null]})", Verdict::kBothAccept},
      {"int beyond 64 bits", R"({"id":1234567890123456789012345})", Verdict::kBothAccept},
      {"negative int beyond 64 bits", "-98765432109876543210", Verdict::kBothAccept},
      {"1e400", "1e400", Verdict::kBothAccept},
      {"-1e-400", "-1e-400", Verdict::kBothAccept},
      {"1e1000000 (numeric overflow)", "1e1000000", Verdict::kOnlyPostgresRefuses},
      {"depth 1024", Repeat("[", 1024) + Repeat("]", 1024), Verdict::kBothAccept},
      {"depth 1025", Repeat("[", 1025) + Repeat("]", 1025), Verdict::kBothAccept},
      {"depth 5000", Repeat("{\"a\":", 5000) + "1" + Repeat("}", 5000), Verdict::kBothAccept},
      {"depth 5000 unclosed", Repeat("[", 5000) + Repeat("]", 4999), Verdict::kBothRefuse},
      {"big int then trailing comma", "[1234567890123456789012345,]", Verdict::kBothRefuse},
      {"\\u0000", R"({"s": "a\u0000b"})", Verdict::kBothRefuse},
      {"escaped backslash u0000", R"({"s": "a\\u0000b"})", Verdict::kBothAccept},
      {"lone high surrogate", R"(["\ud800"])", Verdict::kBothRefuse},
      {"lone low surrogate", R"(["\udc00"])", Verdict::kBothRefuse},
      {"high surrogate then letter", R"(["\ud800\u0041"])", Verdict::kBothRefuse},
      {"surrogate pair", R"(["\ud83d\ude00"])", Verdict::kBothAccept},
      {"invalid UTF-8", "[\"\xff\xfe\"]", Verdict::kBothRefuse},
      {"UTF-8 encoded surrogate", "[\"\xed\xa0\x80\"]", Verdict::kBothRefuse},
      {"overlong UTF-8", "[\"\xc0\xaf\"]", Verdict::kBothRefuse},
      {"valid UTF-8", "[\"caf\xc3\xa9 \xf0\x9f\x98\x80\"]", Verdict::kBothAccept},
      {"UTF-8 BOM", "\xef\xbb\xbf{}", Verdict::kBothRefuse},
      {"leading/trailing whitespace", " \t\r\n{\"a\":1} \n\t\r", Verdict::kBothAccept},
      {"whitespace only", " \n\t ", Verdict::kBothRefuse},
      {"empty", "", Verdict::kBothRefuse},
      {"form feed as whitespace", "\f{}", Verdict::kBothRefuse},
      {"duplicate keys", R"({"a":1,"a":2})", Verdict::kBothAccept},
      {"NaN", "NaN", Verdict::kBothRefuse},
      {"Infinity", "[Infinity]", Verdict::kBothRefuse},
      {"-Infinity", "-Infinity", Verdict::kBothRefuse},
      {"trailing comma in array", "[1,2,]", Verdict::kBothRefuse},
      {"trailing comma in object", R"({"a":1,})", Verdict::kBothRefuse},
      {"control char in string", "[\"a\x01z\"]", Verdict::kBothRefuse},
      {"tab in string", "[\"a\tb\"]", Verdict::kBothRefuse},
      {"DEL in string", "[\"a\x7f\"]", Verdict::kBothAccept},
      {"raw NUL byte", std::string("[\"a\0b\"]", 7), Verdict::kBothRefuse},
      {"escapes", R"(["\"\\\/\b\f\n\r\t\u00e9"])", Verdict::kBothAccept},
      {"invalid escape", R"(["\x41"])", Verdict::kBothRefuse},
      {"short \\u escape", R"(["\u12"])", Verdict::kBothRefuse},
      {"very long string (4 MiB)", "[\"" + long_string + "\"]", Verdict::kBothAccept},
      {"scalar string", R"("text")", Verdict::kBothAccept},
      {"leading zero", "[01]", Verdict::kBothRefuse},
      {"bare minus", "-", Verdict::kBothRefuse},
      {"fraction without digits", "1.", Verdict::kBothRefuse},
      {"leading dot", ".5", Verdict::kBothRefuse},
      {"plus sign", "+1", Verdict::kBothRefuse},
      {"exponent forms", "[0, -0, 0.5e+10, 1E-2, 12.34e5]", Verdict::kBothAccept},
      {"truex", "truex", Verdict::kBothRefuse},
      {"two values", "1 2", Verdict::kBothRefuse},
      {"single quotes", "{'a':1}", Verdict::kBothRefuse},
      {"unquoted key", "{a:1}", Verdict::kBothRefuse},
      {"unclosed string", R"(["abc)", Verdict::kBothRefuse},
  };
}

std::vector<Case> TextCorpus() {
  return {
      {"plain", "not json at all {", Verdict::kBothAccept},
      {"valid UTF-8", "caf\xc3\xa9 \xf0\x9f\x98\x80", Verdict::kBothAccept},
      {"invalid UTF-8", "caf\xe9", Verdict::kBothRefuse},
      {"UTF-8 encoded surrogate", "\xed\xa0\x80", Verdict::kBothRefuse},
      {"overlong UTF-8", "\xc0\xaf", Verdict::kBothRefuse},
      {"beyond U+10FFFF", "\xf4\x90\x80\x80", Verdict::kBothRefuse},
      {"NUL byte", std::string("a\0b", 3), Verdict::kBothRefuse},
      {"UTF-8 BOM", "\xef\xbb\xbfhello", Verdict::kBothAccept},
      {"control chars", "a\x01\x1f\x7f", Verdict::kBothAccept},
      {"empty", "", Verdict::kBothAccept},
      {"backslash u0000 as text", R"(a\u0000b)", Verdict::kBothAccept},
  };
}

class PayloadValidatorPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<PostgresServer>> pg = PostgresServer::SharedOrPrivate();
    ASSERT_TRUE(pg.ok()) << pg.status();
    pg_ = std::move(*pg);
    absl::StatusOr<PgDatabase> db = pg_->CreateDatabase("validator");
    ASSERT_TRUE(db.ok()) << db.status();
    conn_ = PQconnectdb(db->ConnectionString().c_str());
    ASSERT_EQ(PQstatus(conn_), CONNECTION_OK) << PQerrorMessage(conn_);
    ASSERT_STREQ(PQparameterStatus(conn_, "server_encoding"), "UTF8");
  }
  void TearDown() override {
    if (conn_ != nullptr) PQfinish(conn_);
  }

  // The SQLSTATE PostgreSQL refuses `payload` with, as a `text` parameter cast by
  // `sql`; empty when it accepts. The parameter is sent in binary, so every byte
  // (NUL included) reaches the server's encoding check as COPY's would.
  std::string PostgresRefusal(const std::string& sql, const std::string& payload) {
    const Oid types[] = {kTextOid};
    const char* values[] = {payload.data()};
    const int lengths[] = {static_cast<int>(payload.size())};
    const int formats[] = {1};
    PGresult* r = PQexecParams(conn_, sql.c_str(), 1, types, values, lengths, formats, 0);
    std::string sqlstate;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
      const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      sqlstate = s != nullptr ? s : "?????";
      last_error_ = PQresultErrorMessage(r);
    }
    PQclear(r);
    return sqlstate;
  }

  // Checks every case and prints the agreement table.
  void CheckCorpus(::sluice::v1::PayloadFormat format, const std::string& sql,
                   const std::vector<Case>& corpus) {
    PayloadValidator validator(format);
    std::printf("%-32s %-22s %-10s %s\n", "case", "validator", "postgres", "expected");
    for (const Case& c : corpus) {
      const std::optional<Rejection> rejection = validator.Check(c.payload);
      const std::string pg = PostgresRefusal(sql, c.payload);
      // (The validator refusing what PostgreSQL accepts fails the check above.)
      const Verdict actual = !pg.empty()
                                 ? (rejection ? Verdict::kBothRefuse : Verdict::kOnlyPostgresRefuses)
                                 : Verdict::kBothAccept;
      std::printf("%-32s %-22s %-10s %s\n", c.name.c_str(),
                  rejection ? absl::StrCat("refuses ", rejection->sqlstate).c_str() : "accepts",
                  pg.empty() ? "accepts" : pg.c_str(), VerdictName(c.expected));
      // The rule: the validator refuses only what PostgreSQL refuses.
      if (rejection) {
        EXPECT_FALSE(pg.empty()) << c.name << ": the validator refuses (" << rejection->error
                                 << ") what PostgreSQL accepts";
        // And codes it as PostgreSQL does (the dead letter keeps the SQLSTATE).
        if (!pg.empty()) {
          EXPECT_EQ(rejection->sqlstate, pg) << c.name << ": " << last_error_;
        }
      }
      EXPECT_STREQ(VerdictName(actual), VerdictName(c.expected)) << c.name << ": validator "
                                    << (rejection ? rejection->error : "accepts")
                                    << "; postgres " << (pg.empty() ? "accepts" : last_error_);
    }
  }

  std::unique_ptr<PostgresServer> pg_;
  PGconn* conn_ = nullptr;
  std::string last_error_;
};

TEST_F(PayloadValidatorPostgresTest, JsonValidatorRefusesOnlyWhatJsonbRefuses) {
  CheckCorpus(::sluice::v1::PAYLOAD_FORMAT_JSON, "select $1::jsonb", JsonCorpus());
}

TEST_F(PayloadValidatorPostgresTest, TextValidatorRefusesOnlyWhatTextRefuses) {
  CheckCorpus(::sluice::v1::PAYLOAD_FORMAT_TEXT, "select $1::text", TextCorpus());
}

}  // namespace
}  // namespace sluice::worker
