// The flags that map a pipeline onto the user's table, as sluicectl and the
// standalone worker take them: --column NAME=SOURCE[:TYPE] and --bad-rows.
#ifndef SLUICE_COMMON_COLUMN_FLAG_H_
#define SLUICE_COMMON_COLUMN_FLAG_H_

#include <string>

#include "absl/strings/string_view.h"
#include "sluice/v1/pipeline.pb.h"

namespace sluice {

// Parses one --column value into `column`; returns "" or what is wrong with it.
// SOURCE: topic, partition, offset, key, timestamp, payload, header:NAME, or a JSON
// Pointer into the payload ("/body/id"; "json:" alone for the whole document).
// TYPE: text, integer, bigint, numeric, boolean, jsonb, uuid, bytea, or
// timestamptz; a timestamptz read from anything but the Kafka timestamp names its
// format: timestamptz(epoch_s), timestamptz(epoch_ms) or timestamptz(rfc3339).
// Without TYPE, the source's default type (common/column_mapping.h). The text after
// the last ":" is the type only when it reads as one: a header or a pointer whose
// name ends in ":<a type name>" needs its type written out.
std::string ParseColumnFlag(absl::string_view value, v1::ColumnMapping* column);

// The column's TYPE as --column takes it ("jsonb", "timestamptz(epoch_ms)").
std::string FormatColumnType(const v1::ColumnMapping& column);

// Parses --bad-rows all|none|rate:R[/WINDOW] ("rate:0.01/5m") into `tolerance`;
// returns "" or what is wrong with it. The rate's range is checked where the
// pipeline is (the controller, the worker's options).
std::string ParseBadRowsFlag(absl::string_view value, v1::BadRowTolerance* tolerance);

}  // namespace sluice

#endif  // SLUICE_COMMON_COLUMN_FLAG_H_
