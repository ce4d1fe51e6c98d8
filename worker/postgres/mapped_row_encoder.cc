#include "worker/postgres/mapped_row_encoder.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/column_mapping.h"
#include "common/json_pointer.h"
#include "worker/postgres/binary_values.h"
#include "worker/postgres/copy_binary_encoder.h"
#include "worker/postgres/sql_identifiers.h"

namespace sluice::worker {
namespace {

constexpr char kInvalidTextRepresentation[] = "22P02";
constexpr char kInvalidDatetimeFormat[] = "22007";
constexpr char kCharacterNotInRepertoire[] = "22021";
constexpr char kUntranslatableCharacter[] = "22P05";

void AppendField(std::string* out, absl::string_view bytes) {
  AppendBinaryField(out, bytes.data(), bytes.size());
}

Rejection NotConvertible(const v1::ColumnMapping& c, absl::string_view what) {
  return Rejection{absl::StrCat("cannot convert ", what, " to ", ColumnTypeName(c.type())),
                   kInvalidTextRepresentation};
}

// What a JSON value is, by its first byte.
const char* JsonKind(absl::string_view value) {
  switch (value[0]) {
    case '"':
      return "a JSON string";
    case '{':
      return "a JSON object";
    case '[':
      return "a JSON array";
    case 't':
    case 'f':
      return "a JSON boolean";
    default:
      return "a JSON number";
  }
}

}  // namespace

google::protobuf::RepeatedPtrField<v1::ColumnMapping> StandardColumns(v1::PayloadFormat format) {
  google::protobuf::RepeatedPtrField<v1::ColumnMapping> columns;
  auto add = [&](const char* name, v1::ColumnSource source, v1::ColumnType type) {
    v1::ColumnMapping* c = columns.Add();
    c->set_column(name);
    c->set_source(source);
    c->set_type(type);
  };
  add("topic", v1::COLUMN_SOURCE_TOPIC, v1::COLUMN_TYPE_TEXT);
  add("kafka_partition", v1::COLUMN_SOURCE_PARTITION, v1::COLUMN_TYPE_INTEGER);
  add("kafka_offset", v1::COLUMN_SOURCE_OFFSET, v1::COLUMN_TYPE_BIGINT);
  add("kafka_key", v1::COLUMN_SOURCE_KEY, v1::COLUMN_TYPE_BYTEA);
  add("kafka_timestamp", v1::COLUMN_SOURCE_TIMESTAMP, v1::COLUMN_TYPE_TIMESTAMPTZ);
  add("payload", v1::COLUMN_SOURCE_PAYLOAD,
      format == v1::PAYLOAD_FORMAT_TEXT    ? v1::COLUMN_TYPE_TEXT
      : format == v1::PAYLOAD_FORMAT_BYTES ? v1::COLUMN_TYPE_BYTEA
                                           : v1::COLUMN_TYPE_JSONB);
  return columns;
}

absl::StatusOr<std::unique_ptr<MappedRowEncoder>> MappedRowEncoder::Create(
    const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns) {
  if (columns.empty()) return absl::InvalidArgumentError("columns: must not be empty");
  if (absl::Status s = CheckColumnMappings(columns); !s.ok()) return s;
  return std::unique_ptr<MappedRowEncoder>(new MappedRowEncoder(columns));
}

MappedRowEncoder::MappedRowEncoder(
    const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns)
    : columns_(columns.begin(), columns.end()) {
  int json_columns = 0;
  for (const v1::ColumnMapping& c : columns_) {
    if (!copy_columns_.empty()) copy_columns_ += ", ";
    copy_columns_ += QuoteIdentifier(c.column());
    reads_headers_ |= c.source() == v1::COLUMN_SOURCE_HEADER;
    required_.push_back(false);
    slot_.push_back(c.source() == v1::COLUMN_SOURCE_JSON ? json_columns++ : -1);
  }
  // The router reads the same pointers in the same slots (Message::json).
  const std::vector<std::vector<std::string>> pointers = JsonPointersOf(columns);
  reads_json_ = !pointers.empty();
  pointers_ = JsonPointerSet(pointers);
}

void MappedRowEncoder::RequireValues(const std::vector<std::string>& columns) {
  for (size_t i = 0; i < columns_.size(); ++i) {
    for (const std::string& name : columns)
      required_[i] = required_[i] || columns_[i].column() == name;
  }
}

std::optional<Rejection> MappedRowEncoder::AppendRow(const Message& message, std::string* out) {
  payload_read_ = false;
  if (reads_json_ && message.payload) {
    // One pass for the grammar and every pointer's value: the router's, when it
    // read the payload for its routing key, else this one.
    absl::Status syntax;
    // The router's reading holds this mapping's pointers, then its routing field.
    if (message.json && message.json->spans.size() == pointers_.size() + 1) {
      syntax = message.json->syntax;
      spans_read_ = &message.json->spans;
    } else {
      syntax = ReadJson(*message.payload, pointers_, &spans_);
      spans_read_ = &spans_;
    }
    if (std::optional<Rejection> r = JsonbRejection(*message.payload, syntax);
        r && r->sqlstate != kUntranslatableCharacter) {
      // Not JSON at all: no pointer can be read. (An escaped NUL only matters to
      // the columns whose value holds it.)
      r->error = absl::StrCat("payload is not JSON: ", r->error);
      return r;
    }
    payload_read_ = true;
  }
  const size_t start = out->size();
  AppendBinaryInt16(out, static_cast<int16_t>(columns_.size()));
  for (size_t i = 0; i < columns_.size(); ++i) {
    const size_t field = out->size();
    std::optional<Rejection> r = AppendColumn(i, message, out);
    if (!r && required_[i] && out->size() == field + 4 &&
        out->compare(field, 4, "\xff\xff\xff\xff") == 0) {
      r = Rejection{"null value in a column of the upsert key", "23502"};
    }
    if (r) {
      out->resize(start);
      r->error = absl::StrCat("column \"", columns_[i].column(), "\" (",
                              DescribeColumnSource(columns_[i]), "): ", r->error);
      return r;
    }
  }
  return std::nullopt;
}

std::optional<Rejection> MappedRowEncoder::AppendColumn(size_t i, const Message& m,
                                                        std::string* out) {
  const v1::ColumnMapping& c = columns_[i];
  switch (c.source()) {
    case v1::COLUMN_SOURCE_TOPIC:
      return AppendBytes(c, m.topic, /*is_payload=*/false, out);
    case v1::COLUMN_SOURCE_PARTITION:
    case v1::COLUMN_SOURCE_OFFSET: {
      const int64_t v = c.source() == v1::COLUMN_SOURCE_PARTITION ? m.partition : m.offset;
      switch (c.type()) {
        case v1::COLUMN_TYPE_INTEGER:
          AppendBinaryInt32(out, 4);
          AppendBinaryInt32(out, static_cast<int32_t>(v));
          return std::nullopt;
        case v1::COLUMN_TYPE_BIGINT:
          AppendBinaryInt32(out, 8);
          AppendBinaryInt64(out, v);
          return std::nullopt;
        case v1::COLUMN_TYPE_NUMERIC:
          return AppendNumericField(out, std::to_string(v));
        default:
          AppendField(out, std::to_string(v));
          return std::nullopt;
      }
    }
    case v1::COLUMN_SOURCE_TIMESTAMP:
      if (!m.timestamp) {
        AppendBinaryNull(out);
        return std::nullopt;
      }
      switch (c.type()) {
        case v1::COLUMN_TYPE_TIMESTAMPTZ:
          return AppendTimestampField(out, *m.timestamp);
        case v1::COLUMN_TYPE_BIGINT:
          AppendBinaryInt32(out, 8);
          AppendBinaryInt64(out, absl::ToUnixMillis(*m.timestamp));
          return std::nullopt;
        default:
          AppendField(out,
                      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", *m.timestamp, absl::UTCTimeZone()));
          return std::nullopt;
      }
    case v1::COLUMN_SOURCE_KEY:
      if (!m.key) break;
      return AppendBytes(c, *m.key, /*is_payload=*/false, out);
    case v1::COLUMN_SOURCE_HEADER: {
      const std::optional<std::string>* value = nullptr;
      for (const auto& [name, v] : m.headers) {
        if (name == c.path()) value = &v;
      }
      if (value == nullptr || !*value) break;
      return AppendBytes(c, **value, /*is_payload=*/false, out);
    }
    case v1::COLUMN_SOURCE_PAYLOAD:
      if (!m.payload) break;
      return AppendBytes(c, *m.payload, /*is_payload=*/true, out);
    case v1::COLUMN_SOURCE_JSON: {
      if (!payload_read_) break;
      const JsonSpan& span = (*spans_read_)[static_cast<size_t>(slot_[i])];
      if (!span.found) break;
      const absl::string_view value =
          absl::string_view(*m.payload).substr(span.begin, span.end - span.begin);
      if (value == "null") break;
      return AppendJsonValue(c, value, out);
    }
    default:
      break;
  }
  AppendBinaryNull(out);
  return std::nullopt;
}

std::optional<Rejection> MappedRowEncoder::AppendBytes(const v1::ColumnMapping& c,
                                                       absl::string_view bytes, bool is_payload,
                                                       std::string* out) {
  switch (c.type()) {
    case v1::COLUMN_TYPE_TEXT:
      if (std::optional<Rejection> r = text_validator_.Check(bytes)) return r;
      AppendField(out, bytes);
      return std::nullopt;
    case v1::COLUMN_TYPE_INTEGER:
    case v1::COLUMN_TYPE_BIGINT:
      return AppendIntegerField(out, bytes, c.type() == v1::COLUMN_TYPE_BIGINT);
    case v1::COLUMN_TYPE_NUMERIC:
      return AppendNumericField(out, bytes);
    case v1::COLUMN_TYPE_BOOLEAN:
      return AppendBooleanField(out, bytes);
    case v1::COLUMN_TYPE_UUID:
      return AppendUuidField(out, bytes);
    case v1::COLUMN_TYPE_TIMESTAMPTZ: {
      std::optional<absl::Time> t;
      switch (c.time_format()) {
        case v1::TIME_FORMAT_EPOCH_SECONDS:
          t = ParseEpoch(bytes, 1);
          break;
        case v1::TIME_FORMAT_EPOCH_MILLIS:
          t = ParseEpoch(bytes, 1000);
          break;
        default:
          t = ParseRfc3339(bytes);
          break;
      }
      if (!t) {
        return Rejection{absl::StrCat("invalid input syntax for type timestamp with time zone (",
                                      TimeFormatName(c.time_format()), "): ", QuoteForError(bytes)),
                         kInvalidDatetimeFormat};
      }
      return AppendTimestampField(out, *t);
    }
    case v1::COLUMN_TYPE_JSONB: {
      // A payload already read whole needs only the check its read left out.
      std::optional<Rejection> r = is_payload && payload_read_
                                       ? JsonbRejection(bytes, absl::OkStatus())
                                       : json_validator_.Check(bytes);
      if (r) return r;
      AppendBinaryInt32(out, static_cast<int32_t>(bytes.size() + 1));
      out->push_back('\1');  // jsonb's binary format version
      out->append(bytes.data(), bytes.size());
      return std::nullopt;
    }
    default:  // BYTEA
      AppendField(out, bytes);
      return std::nullopt;
  }
}

std::optional<Rejection> MappedRowEncoder::AppendJsonValue(const v1::ColumnMapping& c,
                                                           absl::string_view value,
                                                           std::string* out) {
  const bool is_string = value[0] == '"';
  const bool is_number = value[0] == '-' || (value[0] >= '0' && value[0] <= '9');
  if (is_string) {
    scratch_.clear();
    AppendJsonStringValue(value, &scratch_);
  }
  const absl::string_view text = is_string ? absl::string_view(scratch_) : value;
  switch (c.type()) {
    case v1::COLUMN_TYPE_TEXT:
      if (is_string && scratch_.find('\0') != std::string::npos) {
        return Rejection{"invalid byte sequence for encoding \"UTF8\": 0x00",
                         kCharacterNotInRepertoire};
      }
      AppendField(out, text);
      return std::nullopt;
    case v1::COLUMN_TYPE_INTEGER:
    case v1::COLUMN_TYPE_BIGINT:
    case v1::COLUMN_TYPE_NUMERIC:
      if (!is_string && !is_number) return NotConvertible(c, JsonKind(value));
      if (c.type() == v1::COLUMN_TYPE_NUMERIC) return AppendNumericField(out, text);
      return AppendIntegerField(out, text, c.type() == v1::COLUMN_TYPE_BIGINT);
    case v1::COLUMN_TYPE_BOOLEAN:
      if (value[0] == '{' || value[0] == '[' || is_number) {
        return NotConvertible(c, JsonKind(value));
      }
      return AppendBooleanField(out, text);
    case v1::COLUMN_TYPE_UUID:
      if (!is_string) return NotConvertible(c, JsonKind(value));
      return AppendUuidField(out, text);
    case v1::COLUMN_TYPE_TIMESTAMPTZ:
      if (!is_string && !is_number) return NotConvertible(c, JsonKind(value));
      if (is_number && c.time_format() == v1::TIME_FORMAT_RFC3339) {
        return NotConvertible(c, "a JSON number (rfc3339 reads strings)");
      }
      return AppendBytes(c, text, /*is_payload=*/false, out);
    case v1::COLUMN_TYPE_JSONB:
      if (HasJsonNulEscape(value)) {
        return Rejection{"unsupported Unicode escape sequence: \\u0000 cannot be converted to text",
                         kUntranslatableCharacter};
      }
      AppendBinaryInt32(out, static_cast<int32_t>(value.size() + 1));
      out->push_back('\1');
      out->append(value.data(), value.size());
      return std::nullopt;
    default:  // BYTEA
      AppendField(out, text);
      return std::nullopt;
  }
}

}  // namespace sluice::worker
