// The COPY text encoding, without a server (the sink tests check it against one).
#include "worker/postgres/copy_encoder.h"

#include "gtest/gtest.h"

namespace sluice::worker {
namespace {

TEST(CopyEncoderTest, EscapesOnlyWhatCopyTextNeeds) {
  std::string out;
  AppendCopyText(&out, "plain");
  AppendCopyText(&out, "a\tb\nc\rd\\e");
  AppendCopyText(&out, "");
  EXPECT_EQ(out, "plaina\\tb\\nc\\rd\\\\e");
}

TEST(CopyEncoderTest, ByteaIsHex) {
  std::string out;
  AppendCopyBytea(&out, std::string("\x00\xff\t", 3));
  EXPECT_EQ(out, "\\\\x00ff09");
  EXPECT_EQ(ByteaHex("AZ"), "\\x415a");
}

TEST(CopyEncoderTest, ARowHasSixColumnsAndNullsAreBackslashN) {
  Message m;
  m.topic = "items";
  m.partition = 3;
  m.offset = 42;
  m.payload = "{\"a\":\"x\ty\"}";
  std::string out;
  AppendRow(&out, m, ::sluice::v1::PAYLOAD_FORMAT_JSON);
  EXPECT_EQ(out, "items\t3\t42\t\\N\t\\N\t{\"a\":\"x\\ty\"}\n");

  m.key = "k";
  m.timestamp = absl::FromUnixMillis(1700000000123);
  m.payload = std::string("\x01\x02", 2);
  out.clear();
  AppendRow(&out, m, ::sluice::v1::PAYLOAD_FORMAT_BYTES);
  EXPECT_EQ(out, "items\t3\t42\t\\\\x6b\t2023-11-14 22:13:20.123000+00\t\\\\x0102\n");

  m.payload.reset();  // a tombstone
  out.clear();
  AppendRow(&out, m, ::sluice::v1::PAYLOAD_FORMAT_TEXT);
  EXPECT_EQ(out, "items\t3\t42\t\\\\x6b\t2023-11-14 22:13:20.123000+00\t\\N\n");
}

// Found by fuzz/copy_encoder_fuzzer: absl's %Y printed year 5 as "5-01-01 ...",
// which PostgreSQL stored as 2001-05-01; years 10-99 it refused, and it has no
// year 0 or negative years (BC). Kafka carries any int64 millisecond timestamp.
TEST(CopyEncoderTest, TimestampsKeepFourYearDigitsAndBeforeChristIsBC) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  EXPECT_EQ(FormatTimestamp(absl::FromCivil(absl::CivilSecond(5, 1, 1, 0, 0, 0), utc)),
            "0005-01-01 00:00:00.000000+00");
  EXPECT_EQ(FormatTimestamp(absl::FromCivil(absl::CivilSecond(867, 7, 29, 9, 37, 10), utc) +
                            absl::Milliseconds(492)),
            "0867-07-29 09:37:10.492000+00");
  EXPECT_EQ(FormatTimestamp(absl::FromCivil(absl::CivilSecond(0, 1, 1, 0, 0, 0), utc)),
            "0001-01-01 00:00:00.000000+00 BC");
  EXPECT_EQ(FormatTimestamp(absl::FromCivil(absl::CivilSecond(-44, 3, 15, 12, 0, 0), utc)),
            "0045-03-15 12:00:00.000000+00 BC");
  EXPECT_EQ(FormatTimestamp(absl::FromCivil(absl::CivilSecond(12345, 1, 1, 0, 0, 0), utc)),
            "12345-01-01 00:00:00.000000+00");
  EXPECT_EQ(FormatTimestamp(absl::FromUnixMillis(0)), "1970-01-01 00:00:00.000000+00");
}

TEST(CopyEncoderTest, ADeadLetterCarriesTheReason) {
  Message m;
  m.topic = "items";
  m.partition = 0;
  m.offset = 7;
  m.payload = "{bad";
  std::string out;
  AppendDeadLetter(&out, "group", m, "invalid input syntax for type json", "22P02");
  EXPECT_EQ(out, "group\titems\t0\t7\t\\N\t\\\\x7b626164\tinvalid input syntax for type json\t22P02\n");
}

}  // namespace
}  // namespace sluice::worker
