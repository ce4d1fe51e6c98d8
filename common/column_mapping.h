// The rules of a pipeline's column mapping (PipelineConfig.columns): which source
// converts to which column type, and how each is named on the command line and in
// PostgreSQL. The controller checks a pipeline with them before storing it; the
// worker checks again before it compiles the mapping (a config pushed by an older
// or newer controller).
#ifndef SLUICE_COMMON_COLUMN_MAPPING_H_
#define SLUICE_COMMON_COLUMN_MAPPING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "sluice/v1/pipeline.pb.h"

namespace sluice {

// OK when every column has a name (at most 63 bytes, unique), a known source with
// the path it needs (a header name; a JSON Pointer), a type its source converts to
// (pipeline.proto) and a time format exactly when a TIMESTAMPTZ column reads
// something other than the Kafka timestamp; at most kMaxColumns columns.
// Otherwise INVALID_ARGUMENT naming the field ("columns[2].type: ...").
absl::Status CheckColumnMappings(
    const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns);

// OK when the write mode fits the mapping: UPSERT needs columns and key columns
// (at most kMaxKeyColumns, each a mapped column, none twice); delete_on_tombstone
// needs UPSERT and key columns a tombstone has (key, header, topic, partition);
// INSERT takes neither. Otherwise INVALID_ARGUMENT naming the field.
absl::Status CheckWriteMode(const v1::PipelineConfig& config);

// Whether `source` converts to `type` (pipeline.proto, ColumnType).
bool SourceConvertsTo(v1::ColumnSource source, v1::ColumnType type);

// The type a column gets when none is named: text for the topic and headers,
// integer for the partition, bigint for the offset, timestamptz for the timestamp,
// bytea for the key, jsonb for the payload and JSON Pointers.
v1::ColumnType DefaultColumnType(v1::ColumnSource source);

// "text", "integer", "bigint", "numeric", "boolean", "timestamptz", "jsonb", "uuid",
// "bytea": the names sluicectl takes and prints; nullopt for others.
const char* ColumnTypeName(v1::ColumnType type);
std::optional<v1::ColumnType> ParseColumnType(absl::string_view name);
// "epoch_s", "epoch_ms", "rfc3339".
const char* TimeFormatName(v1::TimeFormat format);
std::optional<v1::TimeFormat> ParseTimeFormat(absl::string_view name);

// The column's source as sluicectl writes it: topic, partition, offset, key,
// timestamp, payload, header:NAME, or the JSON Pointer itself ("/body/id").
std::string DescribeColumnSource(const v1::ColumnMapping& column);

// What PostgreSQL's format_type() prints for the column types a `type` column
// accepts in binary COPY (numeric and varchar with any modifier).
bool PostgresTypeAccepts(v1::ColumnType type, absl::string_view format_type);

// The parsed pointers of the columns whose source is a JSON Pointer, in column
// order: pointer i fills slot i of the payload's reading (worker/json_reader), for
// the router and the mapping alike. `columns` must have passed CheckColumnMappings.
std::vector<std::vector<std::string>> JsonPointersOf(
    const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns);

}  // namespace sluice

#endif  // SLUICE_COMMON_COLUMN_MAPPING_H_
