// Conversions between protobuf's Timestamp/Duration and absl::Time/Duration.
#ifndef SLUICE_COMMON_PROTO_TIME_H_
#define SLUICE_COMMON_PROTO_TIME_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include "absl/time/time.h"

namespace sluice {

inline absl::Time ToAbslTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Microsecond precision, as PostgreSQL keeps it.
inline google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

inline absl::Duration ToAbslDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Millisecond precision (every duration in the API is configured in ms or coarser).
inline google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  return google::protobuf::util::TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(d));
}

}  // namespace sluice

#endif  // SLUICE_COMMON_PROTO_TIME_H_
