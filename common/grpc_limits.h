// Limits every Sluice gRPC server and client sets, so an oversized message is
// refused with RESOURCE_EXHAUSTED at the edge instead of being buffered.
#ifndef SLUICE_COMMON_GRPC_LIMITS_H_
#define SLUICE_COMMON_GRPC_LIMITS_H_

namespace sluice {

// The largest message either side sends or accepts. An assignment of a few
// hundred pipelines with their flags, or a stats report of a worker with
// thousands of partitions, stays far below it.
inline constexpr int kMaxGrpcMessageBytes = 16 << 20;

}  // namespace sluice

#endif  // SLUICE_COMMON_GRPC_LIMITS_H_
