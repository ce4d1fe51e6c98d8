#include "common/arg_parser.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

absl::Status Parse(ArgParser& p, std::vector<const char*> args) {
  args.insert(args.begin(), "prog");
  return p.Parse(static_cast<int>(args.size()), args.data());
}

TEST(ArgParserTest, BothSpellingsAndRepeats) {
  std::string s;
  int64_t n = 0;
  bool b = false;
  std::vector<std::string> r;
  ArgParser p("prog");
  p.AddString("name", &s, "");
  p.AddInt("count", &n, "");
  p.AddBool("verbose", &b, "");
  p.AddRepeated("tag", &r, "");
  ASSERT_TRUE(Parse(p, {"--name=x", "--count", "7", "--verbose", "--tag", "a", "--tag=b"}).ok());
  EXPECT_EQ(s, "x");
  EXPECT_EQ(n, 7);
  EXPECT_TRUE(b);
  EXPECT_EQ(r, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(p.WasSet("name"));
}

TEST(ArgParserTest, BoolTakesExplicitValues) {
  bool b = true;
  ArgParser p("prog");
  p.AddBool("x", &b, "");
  ASSERT_TRUE(Parse(p, {"--x=false"}).ok());
  EXPECT_FALSE(b);
  EXPECT_EQ(Parse(p, {"--x=maybe"}).message(), "--x: 'maybe' is not true or false");
}

TEST(ArgParserTest, Positional) {
  ArgParser p("prog");
  EXPECT_EQ(Parse(p, {"pos"}).message(), "unexpected argument 'pos'");
  ArgParser q("prog");
  q.AllowPositional();
  ASSERT_TRUE(Parse(q, {"a", "b"}).ok());
  EXPECT_EQ(q.positional(), (std::vector<std::string>{"a", "b"}));
}

TEST(ArgParserTest, Seconds) {
  absl::Duration d;
  EXPECT_TRUE(ParseSeconds("0.15", &d).ok());
  EXPECT_EQ(d, absl::Milliseconds(150));
  EXPECT_TRUE(ParseSeconds("2s", &d).ok());
  EXPECT_EQ(d, absl::Seconds(2));
  EXPECT_TRUE(ParseSeconds("250ms", &d).ok());
  EXPECT_EQ(d, absl::Milliseconds(250));
  EXPECT_EQ(ParseSeconds("-3", &d).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseSeconds("inf", &d).message(), "'inf' is not a finite duration");
  EXPECT_EQ(ParseSeconds("nan", &d).message(), "'nan' is not a finite duration");
}

TEST(ArgParserTest, Bytes) {
  int64_t n = 0;
  EXPECT_TRUE(ParseBytes("16MiB", &n).ok());
  EXPECT_EQ(n, 16 << 20);
  EXPECT_TRUE(ParseBytes("512KiB", &n).ok());
  EXPECT_EQ(n, 512 << 10);
  EXPECT_TRUE(ParseBytes("1000", &n).ok());
  EXPECT_EQ(n, 1000);
  EXPECT_FALSE(ParseBytes("-1MiB", &n).ok());
  EXPECT_FALSE(ParseBytes("lots", &n).ok());
}

// `offsets reset --partition 4294967296` reset partition 0: the int64 was cut to int32.
TEST(ArgParserTest, RangedIntRefusesWhatItsFieldCannotHold) {
  int64_t partition = -1;
  ArgParser p("prog");
  p.AddInt("partition", &partition, -1, 2147483647, "");
  absl::Status s = Parse(p, {"--partition", "4294967296"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "--partition: '4294967296' is out of range (-1 to 2147483647)");
  EXPECT_EQ(partition, -1);
  EXPECT_EQ(Parse(p, {"--partition=-2"}).message(),
            "--partition: '-2' is out of range (-1 to 2147483647)");
  ASSERT_TRUE(Parse(p, {"--partition", "2147483647"}).ok());
  EXPECT_EQ(partition, 2147483647);
}

}  // namespace
}  // namespace sluice
