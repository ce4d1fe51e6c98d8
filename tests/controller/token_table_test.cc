#include "controller/token_table.h"

#include "gtest/gtest.h"

namespace sluice::controller {
namespace {

constexpr char kFile[] = R"(# name role token
ci-reader   read   r-0123456789abcdef0123
worker-a	worker w-0123456789abcdef0123

ops-alice admin a-0123456789abcdef0123
)";

TEST(TokenTableTest, ParsesNamesRolesAndTokens) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(kFile);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);
  const TokenHolder* alice = table->Find("a-0123456789abcdef0123");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->name, "ops-alice");
  EXPECT_EQ(alice->role, Role::kAdmin);
  EXPECT_EQ(table->Find("w-0123456789abcdef0123")->role, Role::kWorker);
  EXPECT_EQ(table->Find("r-0123456789abcdef0123")->role, Role::kRead);
}

TEST(TokenTableTest, AnythingButAnExactTokenIsUnknown) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(kFile);
  ASSERT_TRUE(table.ok());
  for (const char* guess :
       {"", "a", "a-0123456789abcdef012", "a-0123456789abcdef01234", "A-0123456789abcdef0123",
        "a-0123456789abcdef0123 ", "ops-alice", "a-0123456789abcdef0123a-0123456789abcdef0123"}) {
    EXPECT_EQ(table->Find(guess), nullptr) << guess;
  }
}

struct BadFile {
  std::string contents;
  std::string message;
};

class TokenTableErrorTest : public ::testing::TestWithParam<BadFile> {};

// Errors name the line and never echo the token.
TEST_P(TokenTableErrorTest, NamesTheLineAndNotTheToken) {
  absl::StatusOr<TokenTable> table = TokenTable::Parse(GetParam().contents);
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table.status().message(), GetParam().message);
  EXPECT_EQ(std::string(table.status().message()).find("0123456789"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Files, TokenTableErrorTest,
    ::testing::Values(
        BadFile{"", "no tokens in the file"},
        BadFile{"# only a comment\n", "no tokens in the file"},
        BadFile{"alice admin\n", "line 1: expected NAME ROLE TOKEN"},
        BadFile{"alice admin t-0123456789abcdef extra\n", "line 1: expected NAME ROLE TOKEN"},
        BadFile{"alice root t-0123456789abcdef\n", "line 1: ROLE must be read, worker or admin"},
        BadFile{"alice admin t-0123456789abcd\xc3\xa9f\n", "line 1: TOKEN must be printable ASCII"},
        BadFile{"\nalice admin short0123456789\n",
                "line 2: TOKEN must be at least 16 bytes (generate one with: openssl rand -hex "
                "32)"},
        BadFile{"al/ice admin t-0123456789abcdef\n",
                "line 1: NAME may hold only letters, digits, '_', '.', '@' and '-'"},
        BadFile{std::string(64, 'n') + " admin t-0123456789abcdef\n",
                "line 1: NAME must be 1..63 bytes"},
        BadFile{"a admin t-0123456789abcdef\na read u-0123456789abcdef\n",
                "line 2: NAME a appears twice"},
        BadFile{"a admin t-0123456789abcdef\nb read t-0123456789abcdef\n",
                "line 2: the token of a appears twice"}));

TEST(ConstantTimeEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abcabc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace sluice::controller
