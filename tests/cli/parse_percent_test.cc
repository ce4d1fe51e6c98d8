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
  EXPECT_EQ(ParsePercent("120", &bp), "");  // the controller refuses it, naming the field
  EXPECT_EQ(bp, 12000u);
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
