// Limits every Sluice gRPC server and client sets, so an oversized message is
// refused with RESOURCE_EXHAUSTED at the edge instead of being buffered.
//
// gRPC's own defaults are 4 MiB to receive and unlimited to send; both sides use
// the one number below, so a message one side may send the other may receive.
#ifndef SLUICE_COMMON_GRPC_LIMITS_H_
#define SLUICE_COMMON_GRPC_LIMITS_H_

#include <grpcpp/support/channel_arguments.h>

namespace sluice {

// The largest message either side sends or accepts. An assignment of a few
// hundred pipelines with their flags, or a stats report of a worker with
// thousands of partitions, stays far below it (the admin API's bounds are in
// common/admin_limits.h).
inline constexpr int kMaxGrpcMessageBytes = 16 << 20;

// Channel arguments for every Sluice client channel (sluicectl, the worker's
// control stream, FlagClient and so sluice-produce): the bound above both ways.
inline grpc::ChannelArguments SluiceChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  return args;
}

}  // namespace sluice

#endif  // SLUICE_COMMON_GRPC_LIMITS_H_
