#include "cli/cli_context.h"
#include "gtest/gtest.h"

namespace sluice::cli {
namespace {

TEST(ParsePercentTest, BasisPoints) {
  uint32_t bp = 0;
  EXPECT_EQ(ParsePercent("12.5", &bp), "");
  EXPECT_EQ(bp, 1250u);
  EXPECT_EQ(ParsePercent("12.05", &bp), "");
  EXPECT_EQ(bp, 1205u);
  EXPECT_EQ(ParsePercent("100", &bp), "");
  EXPECT_EQ(bp, 10000u);
  EXPECT_EQ(ParsePercent("0.01", &bp), "");
  EXPECT_EQ(bp, 1u);
  EXPECT_EQ(ParsePercent("0", &bp), "");
  EXPECT_EQ(bp, 0u);
}

// `--percent 42949673` became 4 basis points: whole * 100 wrapped in 32 bits.
TEST(ParsePercentTest, MoreThanAHundredIsRefusedBeforeItCanWrap) {
  uint32_t bp = 7;
  EXPECT_EQ(ParsePercent("42949673", &bp), "--percent: '42949673' is more than 100");
  EXPECT_EQ(ParsePercent("120", &bp), "--percent: '120' is more than 100");
  EXPECT_EQ(ParsePercent("100.01", &bp), "--percent: '100.01' is more than 100");
  EXPECT_EQ(ParsePercent("4294967296", &bp, "--step"),
            "--step: '4294967296' is not a percentage with at most 2 decimals (0.01% steps)");
  EXPECT_EQ(bp, 7u);
}

// `flags set --at 10000-01-01T00:00:00Z` aborted (exit 134): protobuf's TimeUtil
// CHECK-fails on a time a Timestamp cannot hold.
TEST(ParseTimeFlagTest, TimesATimestampCannotHoldAreRefused) {
  google::protobuf::Timestamp t;
  EXPECT_EQ(ParseTimeFlag("--at", "10000-01-01T00:00:00Z", &t),
            "--at: '10000-01-01T00:00:00Z' is out of range (years 0001 to 9999; the "
            "controller takes at most 10 years ahead)");
  EXPECT_EQ(ParseTimeFlag("--at", "tomorrow", &t).substr(0, 44),
            "--at: 'tomorrow' is not an RFC 3339 time (Fa");
  EXPECT_EQ(t.seconds(), 0);
  ASSERT_EQ(ParseTimeFlag("--at", "9999-12-31T23:59:59Z", &t), "");
  EXPECT_EQ(t.seconds(), 253402300799);
}

TEST(ErrorLineTest, JsonErrorsAreOneObjectWithCodeAndMessage) {
  EXPECT_EQ(ErrorLine(false, "NOT_FOUND", "flag nope not found", false),
            "sluicectl: NOT_FOUND: flag nope not found\n");
  EXPECT_EQ(ErrorLine(false, "INVALID_ARGUMENT", "--percent: 'x' is bad", true),
            "sluicectl: --percent: 'x' is bad (see sluicectl --help)\n");
  EXPECT_EQ(ErrorLine(true, "UNAVAILABLE", "connection refused", false),
            "{\"code\":\"UNAVAILABLE\",\"message\":\"connection refused\"}\n");
  EXPECT_EQ(ErrorLine(true, "INVALID_ARGUMENT", "--at: 'a\"b' is bad", true),
            "{\"code\":\"INVALID_ARGUMENT\",\"message\":\"--at: 'a\\\"b' is bad\"}\n");
}

TEST(ParsePercentTest, Refusals) {
  uint32_t bp = 0;
  EXPECT_EQ(ParsePercent("12.345", &bp),
            "--percent: '12.345' is not a percentage with at most 2 decimals (0.01% steps)");
  EXPECT_NE(ParsePercent("-5", &bp), "");
  EXPECT_NE(ParsePercent("ten", &bp), "");
  EXPECT_NE(ParsePercent("1.", &bp), "");
  EXPECT_NE(ParsePercent("1.2.3", &bp), "");
}

}  // namespace
}  // namespace sluice::cli
