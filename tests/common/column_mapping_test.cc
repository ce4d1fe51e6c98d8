#include "common/column_mapping.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

v1::ColumnMapping Column(const std::string& name, v1::ColumnSource source, v1::ColumnType type,
                         const std::string& path = "",
                         v1::TimeFormat format = v1::TIME_FORMAT_UNSPECIFIED) {
  v1::ColumnMapping c;
  c.set_column(name);
  c.set_source(source);
  c.set_type(type);
  c.set_path(path);
  c.set_time_format(format);
  return c;
}

std::string Check(std::vector<v1::ColumnMapping> columns) {
  google::protobuf::RepeatedPtrField<v1::ColumnMapping> field(columns.begin(), columns.end());
  absl::Status s = CheckColumnMappings(field);
  return s.ok() ? "OK" : std::string(s.message());
}

TEST(ColumnMappingTest, AValidMappingPasses) {
  EXPECT_EQ(Check({}), "OK");
  EXPECT_EQ(Check({Column("t", v1::COLUMN_SOURCE_TOPIC, v1::COLUMN_TYPE_TEXT),
                   Column("p", v1::COLUMN_SOURCE_PARTITION, v1::COLUMN_TYPE_INTEGER),
                   Column("h", v1::COLUMN_SOURCE_HEADER, v1::COLUMN_TYPE_UUID, "trace"),
                   Column("at", v1::COLUMN_SOURCE_JSON, v1::COLUMN_TYPE_TIMESTAMPTZ, "/at",
                          v1::TIME_FORMAT_RFC3339),
                   Column("ts", v1::COLUMN_SOURCE_TIMESTAMP, v1::COLUMN_TYPE_TIMESTAMPTZ),
                   Column("doc", v1::COLUMN_SOURCE_JSON, v1::COLUMN_TYPE_JSONB, "")}),
            "OK");
}

TEST(ColumnMappingTest, EachMistakeIsNamedByItsField) {
  EXPECT_EQ(Check({Column("", v1::COLUMN_SOURCE_TOPIC, v1::COLUMN_TYPE_TEXT)}),
            "columns[0].column: must not be empty");
  EXPECT_EQ(Check({Column(std::string(64, 'c'), v1::COLUMN_SOURCE_TOPIC, v1::COLUMN_TYPE_TEXT)}),
            "columns[0].column: must be at most 63 bytes (got 64)");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_TOPIC, v1::COLUMN_TYPE_TEXT),
                   Column("a", v1::COLUMN_SOURCE_KEY, v1::COLUMN_TYPE_BYTEA)}),
            "columns[1].column: \"a\" is mapped twice");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_UNSPECIFIED, v1::COLUMN_TYPE_TEXT)}),
            "columns[0].source: unknown value 0");
  EXPECT_EQ(Check({Column("a", static_cast<v1::ColumnSource>(99), v1::COLUMN_TYPE_TEXT)}),
            "columns[0].source: unknown value 99");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_HEADER, v1::COLUMN_TYPE_TEXT)}),
            "columns[0].path: name the header");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_JSON, v1::COLUMN_TYPE_TEXT, "body")}),
            "columns[0].path: a JSON Pointer is empty or starts with \"/\"");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_JSON, v1::COLUMN_TYPE_TEXT,
                          "/" + std::string(1024, 'x'))}),
            "columns[0].path: must be at most 1024 bytes (got 1025)");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_KEY, v1::COLUMN_TYPE_TEXT, "/x")}),
            "columns[0].path: only header and JSON Pointer sources take a path");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_KEY, v1::COLUMN_TYPE_UNSPECIFIED)}),
            "columns[0].type: unknown value 0");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_TOPIC, v1::COLUMN_TYPE_INTEGER)}),
            "columns[0].type: topic does not convert to integer");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_OFFSET, v1::COLUMN_TYPE_INTEGER)}),
            "columns[0].type: offset does not convert to integer");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_JSON, v1::COLUMN_TYPE_TIMESTAMPTZ, "/at")}),
            "columns[0].time_format: a timestamptz from /at needs one: epoch_s, epoch_ms or "
            "rfc3339");
  EXPECT_EQ(Check({Column("a", v1::COLUMN_SOURCE_TIMESTAMP, v1::COLUMN_TYPE_TIMESTAMPTZ, "",
                          v1::TIME_FORMAT_EPOCH_MILLIS)}),
            "columns[0].time_format: applies only to a timestamptz column read from a key, "
            "header, payload or JSON Pointer");
  std::vector<v1::ColumnMapping> many;
  for (int i = 0; i < 65; ++i) {
    many.push_back(Column("c" + std::to_string(i), v1::COLUMN_SOURCE_TOPIC, v1::COLUMN_TYPE_TEXT));
  }
  EXPECT_EQ(Check(many), "columns: must be at most 64 (got 65)");
}

std::string CheckMode(v1::WriteMode mode, std::vector<std::string> keys, bool deletes = false) {
  v1::PipelineConfig c;
  *c.add_columns() = Column("id", v1::COLUMN_SOURCE_KEY, v1::COLUMN_TYPE_TEXT);
  *c.add_columns() = Column("region", v1::COLUMN_SOURCE_JSON, v1::COLUMN_TYPE_TEXT, "/region");
  c.set_write_mode(mode);
  for (const std::string& k : keys) c.add_key_columns(k);
  c.set_delete_on_tombstone(deletes);
  absl::Status s = CheckWriteMode(c);
  return s.ok() ? "OK" : std::string(s.message());
}

TEST(ColumnMappingTest, WriteModes) {
  EXPECT_EQ(CheckMode(v1::WRITE_MODE_UNSPECIFIED, {}), "OK");
  EXPECT_EQ(CheckMode(v1::WRITE_MODE_INSERT, {"id"}),
            "key_columns: apply only to write_mode UPSERT");
  EXPECT_EQ(CheckMode(v1::WRITE_MODE_INSERT, {}, true),
            "delete_on_tombstone: applies only to write_mode UPSERT");
  EXPECT_EQ(CheckMode(v1::WRITE_MODE_UPSERT, {"id", "region"}), "OK");
  EXPECT_EQ(CheckMode(v1::WRITE_MODE_UPSERT, {"id"}, true), "OK");
  EXPECT_EQ(CheckMode(v1::WRITE_MODE_UPSERT, {}), "key_columns: UPSERT needs at least one");
  EXPECT_EQ(CheckMode(v1::WRITE_MODE_UPSERT, {"id", "id"}),
            "key_columns[1]: \"id\" is named twice");
  EXPECT_EQ(CheckMode(v1::WRITE_MODE_UPSERT, {"nope"}),
            "key_columns[0]: \"nope\" is not a mapped column");
  EXPECT_EQ(CheckMode(v1::WRITE_MODE_UPSERT, {"id", "region"}, true),
            "key_columns[1]: \"region\" comes from /region; delete_on_tombstone needs every key "
            "column from the key, a header, the topic or the partition (what names a tombstone's "
            "row)");
  EXPECT_EQ(CheckMode(static_cast<v1::WriteMode>(7), {}), "write_mode: unknown value 7");
  v1::PipelineConfig unmapped;
  unmapped.set_write_mode(v1::WRITE_MODE_UPSERT);
  unmapped.add_key_columns("id");
  EXPECT_EQ(CheckWriteMode(unmapped).message(),
            "write_mode: UPSERT needs a column mapping (columns)");
}

TEST(ColumnMappingTest, NamesRoundTrip) {
  for (int t = v1::COLUMN_TYPE_TEXT; t <= v1::COLUMN_TYPE_BYTEA; ++t) {
    const auto type = static_cast<v1::ColumnType>(t);
    EXPECT_EQ(ParseColumnType(ColumnTypeName(type)), type);
  }
  EXPECT_EQ(ParseColumnType("int"), std::nullopt);
  for (int f = v1::TIME_FORMAT_EPOCH_SECONDS; f <= v1::TIME_FORMAT_RFC3339; ++f) {
    const auto format = static_cast<v1::TimeFormat>(f);
    EXPECT_EQ(ParseTimeFormat(TimeFormatName(format)), format);
  }
}

TEST(ColumnMappingTest, PostgresTypesThatTakeEachBinaryValue) {
  EXPECT_TRUE(PostgresTypeAccepts(v1::COLUMN_TYPE_TEXT, "character varying(10)"));
  EXPECT_TRUE(PostgresTypeAccepts(v1::COLUMN_TYPE_NUMERIC, "numeric(5,2)"));
  EXPECT_TRUE(PostgresTypeAccepts(v1::COLUMN_TYPE_TIMESTAMPTZ, "timestamp(3) with time zone"));
  EXPECT_FALSE(PostgresTypeAccepts(v1::COLUMN_TYPE_TIMESTAMPTZ, "timestamp without time zone"));
  EXPECT_FALSE(PostgresTypeAccepts(v1::COLUMN_TYPE_INTEGER, "bigint"));
  EXPECT_FALSE(PostgresTypeAccepts(v1::COLUMN_TYPE_JSONB, "json"));
}

}  // namespace
}  // namespace sluice
