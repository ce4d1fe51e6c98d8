// Encodes messages as rows of the user's table: a pipeline's column mapping
// (PipelineConfig.columns) compiled once, then each message read once (its JSON
// payload in one pass for every JSON Pointer, the validity check included) and
// converted column by column into one binary COPY tuple, or refused with the reason
// PostgreSQL would give, before anything is sent.
#ifndef SLUICE_WORKER_POSTGRES_MAPPED_ROW_ENCODER_H_
#define SLUICE_WORKER_POSTGRES_MAPPED_ROW_ENCODER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "sluice/v1/pipeline.pb.h"
#include "worker/json_reader.h"
#include "worker/message.h"
#include "worker/payload_validator.h"

namespace sluice::worker {

// Not thread-safe (it reuses buffers); one per writer.
class MappedRowEncoder {
 public:
  // INVALID_ARGUMENT (common/column_mapping.h's rules) for a mapping that cannot be
  // compiled, naming the field.
  static absl::StatusOr<std::unique_ptr<MappedRowEncoder>> Create(
      const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns);

  const std::vector<v1::ColumnMapping>& columns() const { return columns_; }
  // The quoted column names for COPY's column list ("\"a\", \"b\"").
  const std::string& copy_columns() const { return copy_columns_; }
  // Whether some column reads a header (the source must keep them).
  bool reads_headers() const { return reads_headers_; }

  // Rows whose value for one of these columns is NULL are refused (an upsert key:
  // 23502). Names that are not mapped columns are ignored.
  void RequireValues(const std::vector<std::string>& columns);

  // Appends `message`'s tuple (the field count, then each column's field) to `out`;
  // or leaves `out` as it was and returns why the row cannot be written.
  std::optional<Rejection> AppendRow(const Message& message, std::string* out);

 private:
  explicit MappedRowEncoder(const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns);

  // One column's field; nullopt on success.
  std::optional<Rejection> AppendColumn(size_t i, const Message& message, std::string* out);
  std::optional<Rejection> AppendJsonValue(const v1::ColumnMapping& c, absl::string_view value,
                                           std::string* out);
  std::optional<Rejection> AppendBytes(const v1::ColumnMapping& c, absl::string_view bytes,
                                       bool is_payload, std::string* out);

  const std::vector<v1::ColumnMapping> columns_;
  std::string copy_columns_;
  bool reads_headers_ = false;
  // The JSON Pointers of the JSON columns; slot_[i] is column i's slot (-1: none).
  JsonPointerSet pointers_;
  std::vector<int> slot_;
  std::vector<bool> required_;  // per column: NULL refused
  bool reads_json_ = false;
  // The current message's read: its spans, and whether its payload was read
  // whole and is JSON jsonb accepts (then a jsonb payload column needs no
  // second check).
  std::vector<JsonSpan> spans_;
  // The spans of the row being appended: spans_ or its Message::json.
  const std::vector<JsonSpan>* spans_read_ = &spans_;
  bool payload_read_ = false;
  std::optional<Rejection> payload_rejection_;
  PayloadValidator json_validator_{v1::PAYLOAD_FORMAT_JSON};
  PayloadValidator text_validator_{v1::PAYLOAD_FORMAT_TEXT};
  std::string scratch_;  // a decoded JSON string
};

// The mapping of Sluice's own shape (PipelineConfig.columns empty): topic,
// kafka_partition, kafka_offset, kafka_key, kafka_timestamp and payload, typed by
// `format`.
google::protobuf::RepeatedPtrField<v1::ColumnMapping> StandardColumns(v1::PayloadFormat format);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_MAPPED_ROW_ENCODER_H_
