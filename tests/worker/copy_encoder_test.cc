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
  EXPECT_EQ(out, "group\titems\t0\t7\t\\N\t\\\\x7b626164\tinvalid input syntax for type json\t22P02\n");
}

}  // namespace
}  // namespace sluice::worker
