#include "common/json_string.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(JsonStringTest, EscapesWhatJsonRequiresAndKeepsUtf8) {
  EXPECT_EQ(JsonString(""), "\"\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString("\n\t\x01\x1f"), "\"\\n\\t\\u0001\\u001f\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9 / \x7f"), "\"caf\xc3\xa9 / \x7f\"");
}

}  // namespace
}  // namespace sluice
