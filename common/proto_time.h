// Conversions between protobuf's Timestamp/Duration and absl::Time/Duration.
#ifndef SLUICE_COMMON_PROTO_TIME_H_
#define SLUICE_COMMON_PROTO_TIME_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include "absl/time/time.h"

namespace sluice {

// What google.protobuf.Timestamp can hold: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z. Converting a time outside it makes protobuf's
// TimeUtil throw (a CHECK), so check first with these.
inline bool FitsProtoTimestamp(absl::Time t) {
  return t >= absl::FromUnixSeconds(google::protobuf::util::TimeUtil::kTimestampMinSeconds) &&
         t < absl::FromUnixSeconds(google::protobuf::util::TimeUtil::kTimestampMaxSeconds + 1);
}

// What google.protobuf.Duration can hold: about ±10000 years.
inline bool FitsProtoDuration(absl::Duration d) {
  return absl::AbsDuration(d) <
         absl::Seconds(google::protobuf::util::TimeUtil::kDurationMaxSeconds + 1);
}

inline absl::Time ToAbslTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Microsecond precision, as PostgreSQL keeps it. `t` must FitsProtoTimestamp.
inline google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  return google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

inline absl::Duration ToAbslDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// Millisecond precision (every duration in the API is configured in ms or coarser).
// `d` must FitsProtoDuration.
inline google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  return google::protobuf::util::TimeUtil::MillisecondsToDuration(absl::ToInt64Milliseconds(d));
}

}  // namespace sluice

#endif  // SLUICE_COMMON_PROTO_TIME_H_
