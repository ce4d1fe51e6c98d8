// Text read from a Kafka message (a key, a header, a JSON value) converted to
// PostgreSQL's binary COPY values, worded and coded as the server would refuse
// them: a value that does not convert makes its row a dead letter before anything
// is sent. Integers and booleans take what the server's input functions take;
// numeric takes a JSON number (not NaN, Infinity, ".5"); uuid the 8-4-4-4-12 form
// with or without hyphens (not braces). Pure functions.
#ifndef SLUICE_WORKER_POSTGRES_BINARY_VALUES_H_
#define SLUICE_WORKER_POSTGRES_BINARY_VALUES_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "worker/payload_validator.h"

namespace sluice::worker {

// An optional sign and decimal digits ("-42", " +7 ") as an integer (4 bytes) or
// bigint (8 bytes) field, as int4in/int8in read them.
std::optional<Rejection> AppendIntegerField(std::string* out, absl::string_view text, bool bigint);
// A JSON number's text (any size, "1.5e3") as a numeric field, exactly.
std::optional<Rejection> AppendNumericField(std::string* out, absl::string_view text);
// What boolin takes (true/false, yes/no, on/off, 1/0, t/f, any case) as a boolean.
std::optional<Rejection> AppendBooleanField(std::string* out, absl::string_view text);
// 32 hex digits, optionally grouped 8-4-4-4-12 by hyphens, as a uuid field.
std::optional<Rejection> AppendUuidField(std::string* out, absl::string_view text);
// A time as a timestamptz field; refused outside PostgreSQL's range.
std::optional<Rejection> AppendTimestampField(std::string* out, absl::Time t);

// A JSON number's text counting seconds (`units_per_second` 1) or milliseconds
// (1000) since 1970-01-01 UTC, fractions allowed (kept to the microsecond,
// truncated); nullopt when `text` is not a number or is out of range.
std::optional<absl::Time> ParseEpoch(absl::string_view text, int64_t units_per_second);
// An RFC 3339 date-time ("2026-11-27T10:00:00Z", "...T10:00:00.123+02:00").
std::optional<absl::Time> ParseRfc3339(absl::string_view text);

// Whether `text` matches JSON's number grammar.
bool IsJsonNumber(absl::string_view text);

// `value` quoted for an error message: cut to 64 bytes, bytes other than printable
// ASCII written \xNN.
std::string QuoteForError(absl::string_view value);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_BINARY_VALUES_H_
