#include "common/host_port.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(HostPortTest, Syntax) {
  EXPECT_TRUE(CheckHostPort("0.0.0.0:9187").ok());
  EXPECT_TRUE(CheckHostPort("[::1]:9187").ok());
  EXPECT_EQ(CheckHostPort("9187").message(), "'9187' is not HOST:PORT");
  EXPECT_EQ(CheckHostPort("h:70000").message(), "port 70000 is not in 1..65535");
}

// Secure by default: without authentication the controller only serves loopback.
TEST(HostPortTest, LoopbackIsOnlyThisMachine) {
  for (const char* a : {"127.0.0.1:7400", "127.1.2.3:1", "localhost:7400", "[::1]:7400"}) {
    EXPECT_TRUE(IsLoopbackAddress(a)) << a;
  }
  for (const char* a : {"0.0.0.0:7400", "[::]:7400", "10.0.0.1:7400", "127.0.0.1.example:7",
                        "ctl.example.com:7400", "128.0.0.1:7400", "127.0.0:7400"}) {
    EXPECT_FALSE(IsLoopbackAddress(a)) << a;
  }
}

}  // namespace
}  // namespace sluice
