#include "common/kafka_headers.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(KafkaHeadersTest, RoundTripsOrderDuplicatesNullsAndBinary) {
  const KafkaHeaders headers = {
      {"region", "eu"}, {"", std::string("\0\xff", 2)}, {"trace", std::nullopt}, {"region", ""}};
  const std::string encoded = EncodeKafkaHeaders(headers);
  EXPECT_EQ(encoded.substr(0, 12), std::string("\0\0\0\x06region\0\0", 12));
  absl::StatusOr<KafkaHeaders> decoded = DecodeKafkaHeaders(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, headers);
  EXPECT_TRUE(DecodeKafkaHeaders("")->empty());
}

TEST(KafkaHeadersTest, RefusesWhatItDidNotWrite) {
  const std::string encoded = EncodeKafkaHeaders({{"a", "bc"}});
  for (size_t cut = 1; cut < encoded.size(); ++cut) {
    EXPECT_FALSE(DecodeKafkaHeaders(encoded.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(DecodeKafkaHeaders(std::string("\xff\xff\xff\xff", 4)).ok());
  EXPECT_FALSE(DecodeKafkaHeaders(std::string("\0\0\0\0\xff\xff\xff\xfe", 8)).ok());
}

}  // namespace
}  // namespace sluice
