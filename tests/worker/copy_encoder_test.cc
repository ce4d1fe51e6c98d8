// The COPY text encoding of dead letters, without a server (the sink tests check
// it against one).
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

TEST(CopyEncoderTest, ADeadLetterCarriesTheReason) {
  Message m;
  m.topic = "items";
  m.partition = 0;
  m.offset = 7;
  m.payload = "{bad";
  std::string out;
  AppendDeadLetter(&out, "group", m, "invalid input syntax for type json", "22P02");
  EXPECT_EQ(out,
            "group\titems\t0\t7\t\\N\t\\\\x7b626164\tinvalid input syntax for type "
            "json\t22P02\t\\N\t\\N\tkafka\n");
}

// What a replay needs to map and route the message again: its timestamp, its
// headers (NULL when they were not read, empty when there were none) and its path
// (none for an item no path could be decided for).
TEST(CopyEncoderTest, ADeadLetterKeepsTimestampHeadersAndPath) {
  Message m;
  m.topic = "items";
  m.offset = 8;
  m.timestamp = absl::FromUnixMicros(1700000000123456);
  m.headers = {{"r", "eu"}};
  m.headers_read = true;
  m.path = Path::kLegacy;
  std::string out;
  AppendDeadLetter(&out, "g", m, "e", "");
  EXPECT_EQ(out,
            "g\titems\t0\t8\t\\N\t\\N\te\t\t2023-11-14 22:13:20.123456+00\t"
            "\\\\x0000000172000000026575\tlegacy\n");
  m.unrouted_reason = "timestamp beyond the known schedule";
  m.timestamp = absl::FromUnixSeconds(400000000000);  // year 14645
  m.headers.clear();
  out.clear();
  AppendDeadLetter(&out, "g", m, "e", "");
  EXPECT_EQ(out, "g\titems\t0\t8\t\\N\t\\N\te\t\t14645-06-30 15:06:40.000000+00\t\\\\x\t\\N\n");
  // Beyond PostgreSQL's range (294276 AD): none, rather than a refused dead letter.
  m.timestamp = absl::FromUnixSeconds(10000000000000);
  m.headers_read = false;
  out.clear();
  AppendDeadLetter(&out, "g", m, "e", "");
  EXPECT_EQ(out, "g\titems\t0\t8\t\\N\t\\N\te\t\t\\N\t\\N\t\\N\n");
  EXPECT_EQ(FormatTimestamp(
                absl::FromCivil(absl::CivilSecond(-4712, 1, 1, 0, 0, 0), absl::UTCTimeZone())),
            "4713-01-01 00:00:00.000000+00 BC");
}

}  // namespace
}  // namespace sluice::worker
