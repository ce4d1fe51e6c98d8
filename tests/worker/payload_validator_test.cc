#include "worker/payload_validator.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

TEST(PayloadValidatorTest, JsonAcceptsValidDocuments) {
  PayloadValidator v(::sluice::v1::PAYLOAD_FORMAT_JSON);
  EXPECT_EQ(v.Check(R"({"project_id": 7, "tags": ["a", "b"], "ok": true})"), std::nullopt);
  EXPECT_EQ(v.Check("42"), std::nullopt);
  EXPECT_EQ(v.Check(R"("a string")"), std::nullopt);
  EXPECT_EQ(v.Check(R"({"escaped": "a\\u0000b"})"), std::nullopt);  // backslash, then u0000
}

// With the router's reading of the payload (Message::json) its verdict is used: the
// payload is not read again.
TEST(PayloadValidatorTest, JsonTakesTheRoutersVerdict) {
  PayloadValidator v(::sluice::v1::PAYLOAD_FORMAT_JSON);
  JsonRead read;
  EXPECT_EQ(v.Check(R"({"k": 1})", &read), std::nullopt);
  read.syntax = absl::InvalidArgumentError("the router's verdict");
  std::optional<Rejection> r = v.Check(R"({"k": 1})", &read);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->sqlstate, "22P02");
  EXPECT_NE(r->error.find("the router's verdict"), std::string::npos);
  // What the grammar leaves to the caller is still checked.
  EXPECT_EQ(v.Check("{\"k\": \"\xff\"}", &read)->sqlstate, "22021");
  const JsonRead valid;
  EXPECT_EQ(v.Check(R"({"k": "\u0000"})", &valid)->sqlstate, "22P05");
}

TEST(PayloadValidatorTest, JsonRefusesWhatJsonbRefuses) {
  PayloadValidator v(::sluice::v1::PAYLOAD_FORMAT_JSON);
  std::optional<Rejection> r = v.Check(R"({"project_id": 7,)");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->sqlstate, "22P02");
  EXPECT_EQ(r->error.rfind("invalid input syntax for type json: ", 0), 0u) << r->error;
  r = v.Check("not json");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->sqlstate, "22P02");
  r = v.Check("");
  ASSERT_TRUE(r.has_value());
  r = v.Check(R"({"nul": "a\u0000b"})");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->sqlstate, "22P05");
  EXPECT_EQ(r->error, "unsupported Unicode escape sequence: \\u0000 cannot be converted to text");
  r = v.Check("{\"bad utf8\": \"\xff\xfe\"}");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->sqlstate, "22021");  // as PostgreSQL's encoding check codes it
  EXPECT_EQ(r->error, "invalid byte sequence for encoding \"UTF8\"");
}

// Issue 7 item 3: simdjson refuses these, PostgreSQL's jsonb stores them.
TEST(PayloadValidatorTest, JsonAcceptsWhatJsonbAcceptsBeyondSimdjsonLimits) {
  PayloadValidator v(::sluice::v1::PAYLOAD_FORMAT_JSON);
  EXPECT_EQ(v.Check(R"({"id":1234567890123456789012345})"), std::nullopt);
  EXPECT_EQ(v.Check("-98765432109876543210"), std::nullopt);
  EXPECT_EQ(v.Check("1e400"), std::nullopt);
  EXPECT_EQ(v.Check(R"({"tiny": -1e-400})"), std::nullopt);
  const std::string deep = std::string(1025, '[') + std::string(1025, ']');
  EXPECT_EQ(v.Check(deep), std::nullopt);
  const std::string deeper = std::string(5000, '[') + "1" + std::string(5000, ']');
  EXPECT_EQ(v.Check(deeper), std::nullopt);
}

// The fallback behind simdjson's limits still refuses what jsonb refuses.
TEST(PayloadValidatorTest, JsonBeyondSimdjsonLimitsStillRefusesSyntaxErrors) {
  PayloadValidator v(::sluice::v1::PAYLOAD_FORMAT_JSON);
  std::optional<Rejection> r = v.Check("[1234567890123456789012345,]");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->sqlstate, "22P02");
  EXPECT_EQ(r->error, "invalid input syntax for type json: expected a value at byte 27");
  r = v.Check(std::string(1025, '[') + std::string(1024, ']'));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error, "invalid input syntax for type json: unexpected end of input");
  r = v.Check("[01]");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->sqlstate, "22P02");
  r = v.Check("[1e400, \"\\u0000\"]");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->sqlstate, "22P05");
}

TEST(PayloadValidatorTest, TextRefusesInvalidUtf8AndNul) {
  PayloadValidator v(::sluice::v1::PAYLOAD_FORMAT_TEXT);
  EXPECT_EQ(v.Check("plain text, even {not json"), std::nullopt);
  EXPECT_EQ(v.Check("caf\xc3\xa9"), std::nullopt);
  std::optional<Rejection> r = v.Check("caf\xe9");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->sqlstate, "22021");
  r = v.Check(std::string("a\0b", 3));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error, "invalid byte sequence for encoding \"UTF8\": 0x00");
}

TEST(PayloadValidatorTest, BytesAcceptEverything) {
  PayloadValidator v(::sluice::v1::PAYLOAD_FORMAT_BYTES);
  EXPECT_EQ(v.Check(std::string("\0\xff\x01", 3)), std::nullopt);
}

}  // namespace
}  // namespace sluice::worker
