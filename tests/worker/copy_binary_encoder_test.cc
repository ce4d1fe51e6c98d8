// The COPY binary encoding, without a server (the sink and bad-input tests check
// it against one, fuzz/copy_encoder_fuzzer decodes it back).
#include "worker/postgres/copy_binary_encoder.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

using ::std::string_literals::operator""s;

TEST(CopyBinaryEncoderTest, HeaderAndTrailerAreTheDocumentedBytes) {
  std::string out;
  AppendBinaryCopyHeader(&out);
  EXPECT_EQ(out, "PGCOPY\n\xff\r\n\0"s "\0\0\0\0"s "\0\0\0\0"s);
  out.clear();
  AppendBinaryCopyTrailer(&out);
  EXPECT_EQ(out, "\xff\xff"s);
}

TEST(CopyBinaryEncoderTest, ARowIsSixLengthPrefixedFieldsInNetworkOrder) {
  Message m;
  m.topic = "items";
  m.partition = 3;
  m.offset = 0x0102030405060708;
  m.payload = "{\"a\":\"x\ty\"}";
  std::string out;
  AppendBinaryRow(&out, m, ::sluice::v1::PAYLOAD_FORMAT_JSON);
  EXPECT_EQ(out, "\0\x06"s                                // six fields
                 "\0\0\0\x05items"s                       // topic
                 "\0\0\0\x04\0\0\0\x03"s                  // partition
                 "\0\0\0\x08\x01\x02\x03\x04\x05\x06\x07\x08"s  // offset
                 "\xff\xff\xff\xff"s                      // key: NULL
                 "\xff\xff\xff\xff"s                      // timestamp: NULL
                 "\0\0\0\x0c\x01{\"a\":\"x\ty\"}"s);      // jsonb: version 1 + text, unescaped

  m.key = "k";
  m.timestamp = absl::FromUnixMillis(946684800001);  // 2000-01-01 00:00:00.001 UTC
  m.payload = "\x00\x01"s;
  out.clear();
  AppendBinaryRow(&out, m, ::sluice::v1::PAYLOAD_FORMAT_BYTES);
  EXPECT_EQ(out.substr(31), "\0\0\0\x01k"s                       // key
                            "\0\0\0\x08\0\0\0\0\0\0\x03\xe8"s  // 1000 µs after PostgreSQL's epoch
                            "\0\0\0\x02\x00\x01"s);           // bytea: the bytes as they are

  m.payload.reset();  // a tombstone
  out.clear();
  AppendBinaryRow(&out, m, ::sluice::v1::PAYLOAD_FORMAT_TEXT);
  EXPECT_EQ(out.substr(out.size() - 4), "\xff\xff\xff\xff"s);
}

TEST(CopyBinaryEncoderTest, TimestampsCountMicrosecondsFromTheYear2000) {
  EXPECT_EQ(PostgresTimestampMicros(absl::FromUnixSeconds(946684800)), 0);
  EXPECT_EQ(PostgresTimestampMicros(absl::FromUnixMillis(0)), -946684800000000);
  EXPECT_EQ(PostgresTimestampMicros(absl::FromUnixMillis(1700000000123)), 753315200123000);
  // Before 1970 and before the year 2000 the value is negative, rounded down.
  EXPECT_EQ(PostgresTimestampMicros(absl::FromUnixMillis(-1)), -946684800001000);
}

// Kafka carries any int64 millisecond timestamp; PostgreSQL's range is 4713 BC to
// 294276 AD. Outside it, the value is the first past the end, which the server
// refuses (so the row is dead-lettered), never a wrapped date or 'infinity'.
TEST(CopyBinaryEncoderTest, TimestampsOutsidePostgresRangeAreRefusedNotWrapped) {
  constexpr int64_t kEnd = 9223371331200000000;
  EXPECT_EQ(PostgresTimestampMicros(absl::FromUnixMillis(INT64_MAX)), kEnd);
  EXPECT_EQ(PostgresTimestampMicros(absl::FromUnixMillis(INT64_MIN)), kEnd);
  // The last representable microsecond is kept; the first past the end is refused.
  const absl::Time pg_epoch = absl::FromUnixSeconds(946684800);
  EXPECT_EQ(PostgresTimestampMicros(pg_epoch + absl::Microseconds(kEnd - 1)), kEnd - 1);
  EXPECT_EQ(PostgresTimestampMicros(pg_epoch + absl::Microseconds(kEnd)), kEnd);
  EXPECT_NE(PostgresTimestampMicros(pg_epoch + absl::Microseconds(kEnd)), INT64_MAX);
  constexpr int64_t kMin = -211813488000000000;
  EXPECT_EQ(PostgresTimestampMicros(pg_epoch + absl::Microseconds(kMin)), kMin);
  EXPECT_EQ(PostgresTimestampMicros(pg_epoch + absl::Microseconds(kMin - 1)), kEnd);
}

}  // namespace
}  // namespace sluice::worker
