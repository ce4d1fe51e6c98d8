#include "worker/postgres/mapped_row_encoder.h"

#include "gtest/gtest.h"
#include "worker/postgres/binary_values.h"
#include "worker/postgres/copy_binary_encoder.h"

namespace sluice::worker {
namespace {

// Sluice's own shape through the mapping writes exactly the bytes of the
// hand-written row encoder the default pipelines use.
TEST(MappedRowEncoderTest, TheStandardColumnsEncodeAsTheDefaultRow) {
  for (v1::PayloadFormat format :
       {v1::PAYLOAD_FORMAT_JSON, v1::PAYLOAD_FORMAT_TEXT, v1::PAYLOAD_FORMAT_BYTES}) {
    absl::StatusOr<std::unique_ptr<MappedRowEncoder>> encoder =
        MappedRowEncoder::Create(StandardColumns(format));
    ASSERT_TRUE(encoder.ok()) << encoder.status();
    EXPECT_EQ((*encoder)->copy_columns(),
              "\"topic\", \"kafka_partition\", \"kafka_offset\", \"kafka_key\", "
              "\"kafka_timestamp\", \"payload\"");
    std::vector<Message> messages(3);
    messages[0] = Message{"t",
                          7,
                          123456789012,
                          std::string("k\0y", 3),
                          R"({"a": [1, "é"]})",
                          absl::FromUnixMicros(-1234567)};
    messages[1] = Message{"topic.x", 0, 0, std::nullopt, std::nullopt, std::nullopt};
    messages[2] = Message{"t", 1, 2, "", "", absl::FromUnixMillis(1700000000000)};
    for (const Message& m : messages) {
      if (format == v1::PAYLOAD_FORMAT_JSON && m.payload && m.payload->empty()) continue;
      std::string mapped, standard;
      EXPECT_EQ((*encoder)->AppendRow(m, &mapped), std::nullopt);
      AppendBinaryRow(&standard, m, format);
      EXPECT_EQ(mapped, standard);
    }
  }
}

TEST(MappedRowEncoderTest, ARefusedRowLeavesTheBufferAsItWas) {
  google::protobuf::RepeatedPtrField<v1::ColumnMapping> columns;
  v1::ColumnMapping* c = columns.Add();
  c->set_column("a");
  c->set_source(v1::COLUMN_SOURCE_TOPIC);
  c->set_type(v1::COLUMN_TYPE_TEXT);
  c = columns.Add();
  c->set_column("n");
  c->set_source(v1::COLUMN_SOURCE_JSON);
  c->set_path("/n");
  c->set_type(v1::COLUMN_TYPE_INTEGER);
  auto encoder = MappedRowEncoder::Create(columns);
  ASSERT_TRUE(encoder.ok());
  std::string out = "before";
  Message m{"t", 0, 0, std::nullopt, R"({"n": "x"})", std::nullopt};
  std::optional<Rejection> r = (*encoder)->AppendRow(m, &out);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error, "column \"n\" (/n): invalid input syntax for type integer: \"x\"");
  EXPECT_EQ(r->sqlstate, "22P02");
  EXPECT_EQ(out, "before");
}

// The router's reading of the payload (Message::json) is used, not a second one:
// a reading that placed /n elsewhere shows in the row.
TEST(MappedRowEncoderTest, TheRoutersReadingOfThePayloadIsNotRepeated) {
  google::protobuf::RepeatedPtrField<v1::ColumnMapping> columns;
  v1::ColumnMapping* c = columns.Add();
  c->set_column("n");
  c->set_source(v1::COLUMN_SOURCE_JSON);
  c->set_path("/n");
  c->set_type(v1::COLUMN_TYPE_TEXT);
  auto encoder = MappedRowEncoder::Create(columns);
  ASSERT_TRUE(encoder.ok());
  Message m{"t", 0, 0, std::nullopt, R"({"n": "a", "m": "b"})", std::nullopt};
  std::string own, carried;
  ASSERT_EQ((*encoder)->AppendRow(m, &own), std::nullopt);
  m.json.emplace();
  m.json->spans = {JsonSpan{16, 19, true}, JsonSpan{}};  // "b", then the routing field
  ASSERT_EQ((*encoder)->AppendRow(m, &carried), std::nullopt);
  // One field of one byte: the text "a" read by this encoder, "b" as carried.
  EXPECT_EQ(own, std::string("\0\1\0\0\0\1a", 7));
  EXPECT_EQ(carried, std::string("\0\1\0\0\0\1b", 7));
  // Its verdict too.
  m.json->syntax = absl::InvalidArgumentError("a verdict from the router");
  std::optional<Rejection> r = (*encoder)->AppendRow(m, &carried);
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->error.find("a verdict from the router"), std::string::npos) << r->error;
}

TEST(MappedRowEncoderTest, AnEmptyOrInvalidMappingIsRefused) {
  EXPECT_FALSE(MappedRowEncoder::Create({}).ok());
  google::protobuf::RepeatedPtrField<v1::ColumnMapping> columns;
  columns.Add()->set_column("a");
  EXPECT_EQ(MappedRowEncoder::Create(columns).status().message(),
            "columns[0].source: unknown value 0");
}

std::string Hex(const std::string& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Numeric(const std::string& text) {
  std::string out;
  std::optional<Rejection> r = AppendNumericField(&out, text);
  return r ? r->sqlstate + " " + r->error : Hex(out);
}

// Field length, then ndigits, weight, sign, dscale and base-10000 digits
// (PostgreSQL's numeric_send).
TEST(BinaryValuesTest, NumericIsPostgresqlsBase10000Form) {
  EXPECT_EQ(Numeric("0"),
            "00000008"
            "0000"
            "0000"
            "0000"
            "0000");
  EXPECT_EQ(Numeric("-0.00"),
            "00000008"
            "0000"
            "0000"
            "0000"
            "0002");
  EXPECT_EQ(Numeric("12345.678"),
            "0000000e"
            "0003"
            "0001"
            "0000"
            "0003"
            "0001"
            "0929"
            "1a7c");
  EXPECT_EQ(Numeric("-1e4"),
            "0000000a"
            "0001"
            "0001"
            "4000"
            "0000"
            "0001");
  // 0.0000|1500: the second group after the point.
  EXPECT_EQ(Numeric("1.5e-5"),
            "0000000a"
            "0001"
            "fffe"
            "0000"
            "0006"
            "05dc");
  EXPECT_EQ(Numeric("1e1001"), "22P02 invalid input syntax for type numeric: \"1e1001\"");
  EXPECT_EQ(Numeric("1."), "22P02 invalid input syntax for type numeric: \"1.\"");
  EXPECT_EQ(Numeric(" 1"), "22P02 invalid input syntax for type numeric: \" 1\"");
}

TEST(BinaryValuesTest, Integers) {
  std::string out;
  EXPECT_EQ(AppendIntegerField(&out, "-2147483648", false), std::nullopt);
  EXPECT_EQ(Hex(out), "0000000480000000");
  EXPECT_EQ(AppendIntegerField(&out, "2147483648", false)->sqlstate, "22003");
  EXPECT_EQ(AppendIntegerField(&out, "9223372036854775808", true)->sqlstate, "22003");
  EXPECT_EQ(AppendIntegerField(&out, "99999999999999999999999", true)->sqlstate, "22003");
  EXPECT_EQ(AppendIntegerField(&out, "-", true)->sqlstate, "22P02");
  // 20 digits: checked before the magnitude can wrap around 2^64.
  EXPECT_EQ(AppendIntegerField(&out, "20000000000000000000", true)->sqlstate, "22003");
  EXPECT_EQ(AppendIntegerField(&out, "18446744073709551616", true)->sqlstate, "22003");
  EXPECT_EQ(AppendIntegerField(&out, "-9223372036854775809", true)->sqlstate, "22003");
  out.clear();
  EXPECT_EQ(AppendIntegerField(&out, " +7 ", false), std::nullopt);
  EXPECT_EQ(Hex(out), "0000000400000007");
  EXPECT_EQ(AppendIntegerField(&out, "1 2", true)->sqlstate, "22P02");
  EXPECT_EQ(AppendIntegerField(&out, "1.0", true)->sqlstate, "22P02");
}

TEST(BinaryValuesTest, BooleansAsBoolinReadsThem) {
  for (const char* yes : {"true", "TRUE", "t", "yes", "y", "on", "1", " True "}) {
    std::string out;
    EXPECT_EQ(AppendBooleanField(&out, yes), std::nullopt) << yes;
    EXPECT_EQ(Hex(out), "0000000101") << yes;
  }
  for (const char* no : {"false", "f", "no", "off", "0", "FALSE"}) {
    std::string out;
    EXPECT_EQ(AppendBooleanField(&out, no), std::nullopt) << no;
    EXPECT_EQ(Hex(out), "0000000100") << no;
  }
  std::string out;
  for (const char* bad : {"o", "truee", "2", "", "yess"}) {
    EXPECT_EQ(AppendBooleanField(&out, bad)->sqlstate, "22P02") << bad;
  }
}

TEST(BinaryValuesTest, TimesAndUuids) {
  EXPECT_EQ(ParseEpoch("1700000000.5", 1), absl::FromUnixMillis(1700000000500));
  EXPECT_EQ(ParseEpoch("1700000000123", 1000), absl::FromUnixMillis(1700000000123));
  EXPECT_EQ(ParseEpoch("-1.5", 1), absl::FromUnixMicros(-1500000));
  EXPECT_EQ(ParseEpoch("1.7e9", 1), absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(ParseEpoch("0.0000001", 1), absl::UnixEpoch());  // below a microsecond
  EXPECT_EQ(ParseEpoch("1e20", 1), std::nullopt);
  EXPECT_EQ(ParseEpoch("soon", 1), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-11-27T10:00:00+02:00"),
            absl::FromCivil(absl::CivilSecond(2026, 11, 27, 8, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(ParseRfc3339("2026-11-27 10:00"), std::nullopt);
  std::string out;
  EXPECT_EQ(AppendUuidField(&out, "a0eebc999c0b4ef8bb6d6bb9bd380a11"), std::nullopt);
  EXPECT_EQ(Hex(out), "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11");
  EXPECT_EQ(AppendUuidField(&out, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1")->sqlstate, "22P02");
  EXPECT_EQ(AppendUuidField(&out, "a0eebc99+9c0b-4ef8-bb6d-6bb9bd380a11")->sqlstate, "22P02");
  // 2^44 s is some 557,000 years on: past PostgreSQL's 294276 AD.
  std::optional<Rejection> beyond =
      AppendTimestampField(&out, absl::FromUnixSeconds(int64_t{1} << 44));
  ASSERT_TRUE(beyond.has_value());
  EXPECT_EQ(beyond->sqlstate, "22008");
  EXPECT_EQ(AppendTimestampField(&out, absl::FromUnixSeconds(int64_t{1} << 42)), std::nullopt);
  EXPECT_EQ(QuoteForError(std::string("a\0\xff\"", 4)), "\"a\\x00\\xff\"\"");
}

}  // namespace
}  // namespace sluice::worker
