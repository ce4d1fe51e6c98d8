// Limits every Sluice gRPC server and client sets, so an oversized message is
// refused with RESOURCE_EXHAUSTED at the edge instead of being buffered, and a
// peer that vanished without closing its connection is noticed in seconds.
//
// gRPC's own defaults are 4 MiB to receive and unlimited to send; both sides use
// the one number below, so a message one side may send the other may receive.
//
// Keepalives: gRPC sends no HTTP/2 PING by default, so a connection to a host that
// died (power, kernel panic, a network partition) without a FIN or RST looks open
// until TCP's retransmissions give up (about 15 minutes with Linux's
// tcp_retries2 = 15 for unacknowledged data; forever on an idle connection). Both
// sides ping every kKeepaliveTime and close the connection when a ping is not
// answered within kKeepaliveTimeout; the server allows the clients' pings (its
// default minimum between pings is 5 minutes, and a client pinging more often is
// sent GOAWAY "too_many_pings").
#ifndef SLUICE_COMMON_GRPC_LIMITS_H_
#define SLUICE_COMMON_GRPC_LIMITS_H_

#include <grpc/grpc.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>

namespace sluice {

// The largest message either side sends or accepts. An assignment of a few
// hundred pipelines with their flags, or a stats report of a worker with
// thousands of partitions, stays far below it (the admin API's bounds are in
// common/admin_limits.h).
inline constexpr int kMaxGrpcMessageBytes = 16 << 20;

inline constexpr int kKeepaliveTimeMs = 10'000;
inline constexpr int kKeepaliveTimeoutMs = 5'000;

// Channel arguments for every Sluice client channel (sluicectl, the worker's
// control stream, FlagClient and so sluice-produce): the bound above both ways,
// and keepalive pings.
inline grpc::ChannelArguments SluiceChannelArguments() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  args.SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  // A stream may be quiet between stats reports; pings must go on regardless.
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  return args;
}

// The same for a Sluice server (the controller): the bound, keepalive pings to
// its clients, and permission for the clients' own pings.
inline void ApplySluiceServerArguments(grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);
  builder->SetMaxSendMessageSize(kMaxGrpcMessageBytes);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Half the clients' interval: a client's pings are never "too many".
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              kKeepaliveTimeMs / 2);
  // gRPC binds with SO_REUSEPORT by default: a second server on a port already
  // taken (another listener of this process, another controller) would start and
  // split the connections with the first. Binding fails instead.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

}  // namespace sluice

#endif  // SLUICE_COMMON_GRPC_LIMITS_H_
