#include "common/json_pointer.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(JsonPointerTest, TokensAreUnescapedInTheRfcOrder) {
  EXPECT_THAT(*ParseJsonPointer(""), IsEmpty());
  EXPECT_THAT(*ParseJsonPointer("/"), ElementsAre(""));
  EXPECT_THAT(*ParseJsonPointer("/body/project_id"), ElementsAre("body", "project_id"));
  EXPECT_THAT(*ParseJsonPointer("/a~1b/m~0n/0"), ElementsAre("a/b", "m~n", "0"));
  // "~01" is "~1" unescaped once, not "/" (RFC 6901 section 4).
  EXPECT_THAT(*ParseJsonPointer("/~01"), ElementsAre("~1"));
  EXPECT_THAT(*ParseJsonPointer("//x/"), ElementsAre("", "x", ""));
}

TEST(JsonPointerTest, MalformedPointersAreRefused) {
  EXPECT_EQ(ParseJsonPointer("body").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseJsonPointer("/a~").status().message(),
            "\"~\" at byte 2 of a JSON Pointer must be followed by 0 or 1");
  EXPECT_FALSE(ParseJsonPointer("/a~2").ok());
}

TEST(JsonPointerTest, ArrayIndexes) {
  uint32_t i = 99;
  EXPECT_TRUE(JsonPointerIndex("0", &i));
  EXPECT_EQ(i, 0u);
  EXPECT_TRUE(JsonPointerIndex("4294967295", &i));
  EXPECT_EQ(i, 4294967295u);
  EXPECT_FALSE(JsonPointerIndex("4294967296", &i));
  EXPECT_FALSE(JsonPointerIndex("01", &i));
  EXPECT_FALSE(JsonPointerIndex("-1", &i));
  EXPECT_FALSE(JsonPointerIndex("", &i));
  EXPECT_FALSE(JsonPointerIndex("1a", &i));
}

}  // namespace
}  // namespace sluice
