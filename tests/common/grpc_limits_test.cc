#include "common/grpc_limits.h"

#include <grpc/grpc.h>

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace sluice {
namespace {

std::map<std::string, int> IntArgs(grpc::ChannelArguments& args) {
  grpc_channel_args c;
  args.SetChannelArgs(&c);
  std::map<std::string, int> out;
  for (size_t i = 0; i < c.num_args; ++i) {
    if (c.args[i].type == GRPC_ARG_INTEGER) out[c.args[i].key] = c.args[i].value.integer;
  }
  return out;
}

// gRPC's client defaults are 4 MiB to receive and unlimited to send; every Sluice
// client uses one bound both ways.
TEST(GrpcLimitsTest, ClientChannelsBoundBothDirections) {
  grpc::ChannelArguments args = SluiceChannelArguments();
  std::map<std::string, int> ints = IntArgs(args);
  EXPECT_EQ(ints[GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH], 16 << 20);
  EXPECT_EQ(ints[GRPC_ARG_MAX_SEND_MESSAGE_LENGTH], 16 << 20);
  EXPECT_EQ(kMaxGrpcMessageBytes, 16 << 20);
}

}  // namespace
}  // namespace sluice
