#include "common/controller_addresses.h"

#include "common/controller_channel.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(ControllerAddressesTest, ParsesACommaSeparatedListInOrderWithoutDuplicates) {
  absl::StatusOr<ControllerAddresses> a = ControllerAddresses::Parse(" a:1, b:2 ,a:1,unix:/s");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->all(), (std::vector<std::string>{"a:1", "b:2", "unix:/s"}));
  EXPECT_EQ(a->current(), "a:1");
}

TEST(ControllerAddressesTest, RefusesEmptyEntries) {
  EXPECT_EQ(ControllerAddresses::Parse("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ControllerAddresses::Parse("a:1,,b:2").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ControllerAddresses::Parse("a:1,").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ControllerAddressesTest, FailoverFollowsAHintInTheListElseTakesTheNext) {
  ControllerAddresses a = *ControllerAddresses::Parse("a:1,b:2,c:3");
  a.Failover("c:3");
  EXPECT_EQ(a.current(), "c:3");
  a.Failover("");  // no leader named: the next one, wrapping around
  EXPECT_EQ(a.current(), "a:1");
  // A leader outside the list (a replica added since) is followed and kept.
  a.Failover("d:4");
  EXPECT_EQ(a.current(), "d:4");
  EXPECT_EQ(a.all(), (std::vector<std::string>{"a:1", "b:2", "c:3", "d:4"}));
  // A hint naming the address just tried (a stale leader row) moves on.
  a.Failover("d:4");
  EXPECT_EQ(a.current(), "a:1");
}

// A follower names the leader; the client calls it only with the settings it was
// allowed to use: a token in clear text goes to loopback only.
TEST(ControllerAddressesTest, ALeaderIsFollowedOnlyWhereTheTokenMayGo) {
  ControllerConnection c{"127.0.0.1:7400", "secret"};
  EXPECT_EQ(FollowableLeader(c, std::string("127.0.0.1:7401")), "127.0.0.1:7401");
  EXPECT_EQ(FollowableLeader(c, std::string("10.0.0.2:7400")), "");
  EXPECT_EQ(FollowableLeader(c, std::string("a:1,b:2")), "");
  EXPECT_EQ(FollowableLeader(c, std::string("")), "");
  EXPECT_EQ(FollowableLeader(c, std::nullopt), "");
  c.allow_plaintext_token = true;
  EXPECT_EQ(FollowableLeader(c, std::string("10.0.0.2:7400")), "10.0.0.2:7400");
  c.token.clear();
  c.allow_plaintext_token = false;
  EXPECT_EQ(FollowableLeader(c, std::string("10.0.0.2:7400")), "10.0.0.2:7400");
}

TEST(ControllerAddressesTest, OneAddressStaysPut) {
  ControllerAddresses a = *ControllerAddresses::Parse("a:1");
  a.Failover("");
  EXPECT_EQ(a.current(), "a:1");
  EXPECT_EQ(a.all(), std::vector<std::string>{"a:1"});
}

// Every replica of the list is checked: a token must not cross the network in
// clear text to the second one either.
TEST(ControllerAddressesTest, TheConnectionCheckCoversEveryAddress) {
  ControllerConnection c{"127.0.0.1:7400,10.0.0.2:7400", "secret"};
  const absl::Status s = CheckControllerConnection(c);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("10.0.0.2:7400"), absl::string_view::npos) << s;
  c.address = "127.0.0.1:7400,localhost:7401";
  EXPECT_TRUE(CheckControllerConnection(c).ok());
  // A channel goes to one address.
  EXPECT_EQ(OpenControllerChannel(c).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
