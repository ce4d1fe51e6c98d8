#include "common/column_flag.h"

#include "common/column_mapping.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

v1::ColumnMapping Parse(const std::string& flag) {
  v1::ColumnMapping c;
  EXPECT_EQ(ParseColumnFlag(flag, &c), "") << flag;
  return c;
}

TEST(ColumnFlagTest, SourcesAndTypes) {
  v1::ColumnMapping c = Parse("project=/body/project_id:bigint");
  EXPECT_EQ(c.column(), "project");
  EXPECT_EQ(c.source(), v1::COLUMN_SOURCE_JSON);
  EXPECT_EQ(c.path(), "/body/project_id");
  EXPECT_EQ(c.type(), v1::COLUMN_TYPE_BIGINT);

  c = Parse("at=/at:timestamptz(epoch_ms)");
  EXPECT_EQ(c.type(), v1::COLUMN_TYPE_TIMESTAMPTZ);
  EXPECT_EQ(c.time_format(), v1::TIME_FORMAT_EPOCH_MILLIS);
  EXPECT_EQ(FormatColumnType(c), "timestamptz(epoch_ms)");

  c = Parse("trace=header:trace-id");
  EXPECT_EQ(c.source(), v1::COLUMN_SOURCE_HEADER);
  EXPECT_EQ(c.path(), "trace-id");
  EXPECT_EQ(c.type(), v1::COLUMN_TYPE_TEXT);  // a header's default

  // A name ending in ":<type>" needs its type written out.
  c = Parse("x=header:a:text:bytea");
  EXPECT_EQ(c.path(), "a:text");
  EXPECT_EQ(c.type(), v1::COLUMN_TYPE_BYTEA);
  c = Parse("x=/a:b");
  EXPECT_EQ(c.path(), "/a:b");
  EXPECT_EQ(c.type(), v1::COLUMN_TYPE_JSONB);

  EXPECT_EQ(Parse("k=key").type(), v1::COLUMN_TYPE_BYTEA);
  EXPECT_EQ(Parse("o=offset").type(), v1::COLUMN_TYPE_BIGINT);
  EXPECT_EQ(Parse("p=partition").type(), v1::COLUMN_TYPE_INTEGER);
  EXPECT_EQ(Parse("d=payload").type(), v1::COLUMN_TYPE_JSONB);
  EXPECT_EQ(Parse("t=topic").type(), v1::COLUMN_TYPE_TEXT);
  EXPECT_EQ(Parse("ts=timestamp").type(), v1::COLUMN_TYPE_TIMESTAMPTZ);
  c = Parse("whole=json:");
  EXPECT_EQ(c.source(), v1::COLUMN_SOURCE_JSON);
  EXPECT_EQ(c.path(), "");
  EXPECT_EQ(DescribeColumnSource(c), "json:");
  // The "=" splits at its first occurrence: a pointer may hold one.
  EXPECT_EQ(Parse("eq=/a=b").path(), "/a=b");
}

TEST(ColumnFlagTest, MistakesAreNamed) {
  v1::ColumnMapping c;
  EXPECT_EQ(ParseColumnFlag("noequals", &c), "--column: 'noequals' is not NAME=SOURCE[:TYPE]");
  EXPECT_EQ(ParseColumnFlag("=topic", &c), "--column: '=topic' is not NAME=SOURCE[:TYPE]");
  EXPECT_EQ(ParseColumnFlag("a=body.id:text", &c),
            "--column a: 'body.id' is not topic, partition, offset, key, timestamp, payload, "
            "header:NAME or a JSON Pointer (/field/...)");
  // An unknown type is read as part of the source, which then is not one.
  EXPECT_NE(ParseColumnFlag("a=key:int", &c), "");
  EXPECT_NE(ParseColumnFlag("a=/at:timestamptz(weekly)", &c), "");
}

TEST(BadRowsFlagTest, ModesAndRates) {
  v1::BadRowTolerance t;
  EXPECT_EQ(ParseBadRowsFlag("none", &t), "");
  EXPECT_EQ(t.mode(), v1::BadRowTolerance::MODE_NONE);
  EXPECT_EQ(ParseBadRowsFlag("rate:0.01/90s", &t), "");
  EXPECT_EQ(t.mode(), v1::BadRowTolerance::MODE_RATE);
  EXPECT_DOUBLE_EQ(t.max_rate(), 0.01);
  EXPECT_EQ(t.window().seconds(), 90);
  EXPECT_EQ(ParseBadRowsFlag("rate:0.5", &t), "");
  EXPECT_FALSE(t.has_window());
  EXPECT_EQ(ParseBadRowsFlag("rate:x", &t), "--bad-rows: 'x' is not a rate (0.01 for 1%)");
  EXPECT_EQ(ParseBadRowsFlag("rate:0.1/soon", &t), "--bad-rows: 'soon' is not a duration (5m)");
  EXPECT_EQ(ParseBadRowsFlag("some", &t), "--bad-rows: 'some' is not all, none or rate:R[/WINDOW]");
}

}  // namespace
}  // namespace sluice
