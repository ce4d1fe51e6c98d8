#include "common/column_mapping.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/admin_limits.h"
#include "common/json_pointer.h"

namespace sluice {
namespace {

absl::Status Field(int i, absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("columns[", i, "].", field, ": ", why));
}

}  // namespace

bool SourceConvertsTo(v1::ColumnSource source, v1::ColumnType type) {
  if (!v1::ColumnType_IsValid(type) || type == v1::COLUMN_TYPE_UNSPECIFIED) return false;
  switch (source) {
    case v1::COLUMN_SOURCE_TOPIC:
      return type == v1::COLUMN_TYPE_TEXT || type == v1::COLUMN_TYPE_BYTEA;
    case v1::COLUMN_SOURCE_PARTITION:
      return type == v1::COLUMN_TYPE_INTEGER || type == v1::COLUMN_TYPE_BIGINT ||
             type == v1::COLUMN_TYPE_NUMERIC || type == v1::COLUMN_TYPE_TEXT;
    case v1::COLUMN_SOURCE_OFFSET:
      return type == v1::COLUMN_TYPE_BIGINT || type == v1::COLUMN_TYPE_NUMERIC ||
             type == v1::COLUMN_TYPE_TEXT;
    case v1::COLUMN_SOURCE_TIMESTAMP:
      return type == v1::COLUMN_TYPE_TIMESTAMPTZ || type == v1::COLUMN_TYPE_BIGINT ||
             type == v1::COLUMN_TYPE_TEXT;
    case v1::COLUMN_SOURCE_KEY:
    case v1::COLUMN_SOURCE_HEADER:
    case v1::COLUMN_SOURCE_PAYLOAD:
    case v1::COLUMN_SOURCE_JSON:
      return true;
    default:
      return false;
  }
}

v1::ColumnType DefaultColumnType(v1::ColumnSource source) {
  switch (source) {
    case v1::COLUMN_SOURCE_TOPIC:
    case v1::COLUMN_SOURCE_HEADER:
      return v1::COLUMN_TYPE_TEXT;
    case v1::COLUMN_SOURCE_PARTITION:
      return v1::COLUMN_TYPE_INTEGER;
    case v1::COLUMN_SOURCE_OFFSET:
      return v1::COLUMN_TYPE_BIGINT;
    case v1::COLUMN_SOURCE_TIMESTAMP:
      return v1::COLUMN_TYPE_TIMESTAMPTZ;
    case v1::COLUMN_SOURCE_KEY:
      return v1::COLUMN_TYPE_BYTEA;
    default:
      return v1::COLUMN_TYPE_JSONB;
  }
}

absl::Status CheckColumnMappings(
    const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns) {
  if (columns.size() > kMaxColumns) {
    return absl::InvalidArgumentError(
        absl::StrCat("columns: must be at most ", kMaxColumns, " (got ", columns.size(), ")"));
  }
  std::set<std::string> names;
  for (int i = 0; i < columns.size(); ++i) {
    const v1::ColumnMapping& c = columns.Get(i);
    if (c.column().empty()) return Field(i, "column", "must not be empty");
    if (c.column().size() > kMaxNameBytes) {
      return Field(
          i, "column",
          absl::StrCat("must be at most ", kMaxNameBytes, " bytes (got ", c.column().size(), ")"));
    }
    if (absl::Status s = CheckNoNul("column", c.column()); !s.ok()) {
      return Field(i, "column", "must not contain a NUL byte");
    }
    if (!names.insert(c.column()).second) {
      return Field(i, "column", absl::StrCat("\"", c.column(), "\" is mapped twice"));
    }
    if (!v1::ColumnSource_IsValid(c.source()) || c.source() == v1::COLUMN_SOURCE_UNSPECIFIED) {
      return Field(i, "source", absl::StrCat("unknown value ", static_cast<int>(c.source())));
    }
    if (c.source() == v1::COLUMN_SOURCE_HEADER) {
      if (c.path().empty()) return Field(i, "path", "name the header");
      if (c.path().size() > kMaxHeaderNameBytes) {
        return Field(i, "path",
                     absl::StrCat("must be at most ", kMaxHeaderNameBytes, " bytes (got ",
                                  c.path().size(), ")"));
      }
      if (c.path().find('\0') != std::string::npos) {
        return Field(i, "path", "must not contain a NUL byte");
      }
    } else if (c.source() == v1::COLUMN_SOURCE_JSON) {
      if (c.path().size() > kMaxJsonPointerBytes) {
        return Field(i, "path",
                     absl::StrCat("must be at most ", kMaxJsonPointerBytes, " bytes (got ",
                                  c.path().size(), ")"));
      }
      if (c.path().find('\0') != std::string::npos) {
        return Field(i, "path", "must not contain a NUL byte");
      }
      if (absl::Status s = ParseJsonPointer(c.path()).status(); !s.ok()) {
        return Field(i, "path", s.message());
      }
    } else if (!c.path().empty()) {
      return Field(i, "path", "only header and JSON Pointer sources take a path");
    }
    if (!v1::ColumnType_IsValid(c.type()) || c.type() == v1::COLUMN_TYPE_UNSPECIFIED) {
      return Field(i, "type", absl::StrCat("unknown value ", static_cast<int>(c.type())));
    }
    if (!SourceConvertsTo(c.source(), c.type())) {
      return Field(
          i, "type",
          absl::StrCat(DescribeColumnSource(c), " does not convert to ", ColumnTypeName(c.type())));
    }
    const bool needs_format =
        c.type() == v1::COLUMN_TYPE_TIMESTAMPTZ && c.source() != v1::COLUMN_SOURCE_TIMESTAMP;
    if (!v1::TimeFormat_IsValid(c.time_format())) {
      return Field(i, "time_format",
                   absl::StrCat("unknown value ", static_cast<int>(c.time_format())));
    }
    if (needs_format && c.time_format() == v1::TIME_FORMAT_UNSPECIFIED) {
      return Field(i, "time_format",
                   absl::StrCat("a timestamptz from ", DescribeColumnSource(c),
                                " needs one: epoch_s, epoch_ms or rfc3339"));
    }
    if (!needs_format && c.time_format() != v1::TIME_FORMAT_UNSPECIFIED) {
      return Field(i, "time_format",
                   "applies only to a timestamptz column read from a key, header, payload "
                   "or JSON Pointer");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckWriteMode(const v1::PipelineConfig& c) {
  auto field = [](absl::string_view name, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", why));
  };
  if (!v1::WriteMode_IsValid(c.write_mode())) {
    return field("write_mode", absl::StrCat("unknown value ", static_cast<int>(c.write_mode())));
  }
  if (c.write_mode() != v1::WRITE_MODE_UPSERT) {
    if (!c.key_columns().empty()) return field("key_columns", "apply only to write_mode UPSERT");
    if (c.delete_on_tombstone()) {
      return field("delete_on_tombstone", "applies only to write_mode UPSERT");
    }
    return absl::OkStatus();
  }
  if (c.columns().empty()) {
    return field("write_mode", "UPSERT needs a column mapping (columns)");
  }
  if (c.key_columns().empty()) return field("key_columns", "UPSERT needs at least one");
  if (c.key_columns_size() > kMaxKeyColumns) {
    return field("key_columns", absl::StrCat("must be at most ", kMaxKeyColumns, " (got ",
                                             c.key_columns_size(), ")"));
  }
  std::set<std::string> seen;
  for (int i = 0; i < c.key_columns_size(); ++i) {
    const std::string& key = c.key_columns(i);
    const std::string name = absl::StrCat("key_columns[", i, "]");
    if (!seen.insert(key).second) return field(name, absl::StrCat("\"", key, "\" is named twice"));
    const v1::ColumnMapping* mapped = nullptr;
    for (const v1::ColumnMapping& m : c.columns()) {
      if (m.column() == key) mapped = &m;
    }
    if (mapped == nullptr) {
      return field(name,
                   absl::StrCat("\"", key.substr(0, kMaxNameBytes), "\" is not a mapped column"));
    }
    if (c.delete_on_tombstone() && (mapped->source() == v1::COLUMN_SOURCE_PAYLOAD ||
                                    mapped->source() == v1::COLUMN_SOURCE_JSON ||
                                    mapped->source() == v1::COLUMN_SOURCE_OFFSET ||
                                    mapped->source() == v1::COLUMN_SOURCE_TIMESTAMP)) {
      return field(name, absl::StrCat("\"", key, "\" comes from ", DescribeColumnSource(*mapped),
                                      "; delete_on_tombstone needs every key column from the "
                                      "key, a header, the topic or the partition (what names a "
                                      "tombstone's row)"));
    }
  }
  return absl::OkStatus();
}

const char* ColumnTypeName(v1::ColumnType type) {
  switch (type) {
    case v1::COLUMN_TYPE_TEXT:
      return "text";
    case v1::COLUMN_TYPE_INTEGER:
      return "integer";
    case v1::COLUMN_TYPE_BIGINT:
      return "bigint";
    case v1::COLUMN_TYPE_NUMERIC:
      return "numeric";
    case v1::COLUMN_TYPE_BOOLEAN:
      return "boolean";
    case v1::COLUMN_TYPE_TIMESTAMPTZ:
      return "timestamptz";
    case v1::COLUMN_TYPE_JSONB:
      return "jsonb";
    case v1::COLUMN_TYPE_UUID:
      return "uuid";
    case v1::COLUMN_TYPE_BYTEA:
      return "bytea";
    default:
      return "unspecified";
  }
}

std::optional<v1::ColumnType> ParseColumnType(absl::string_view name) {
  for (int t = v1::COLUMN_TYPE_TEXT; t <= v1::COLUMN_TYPE_BYTEA; ++t) {
    const auto type = static_cast<v1::ColumnType>(t);
    if (name == ColumnTypeName(type)) return type;
  }
  return std::nullopt;
}

const char* TimeFormatName(v1::TimeFormat format) {
  switch (format) {
    case v1::TIME_FORMAT_EPOCH_SECONDS:
      return "epoch_s";
    case v1::TIME_FORMAT_EPOCH_MILLIS:
      return "epoch_ms";
    case v1::TIME_FORMAT_RFC3339:
      return "rfc3339";
    default:
      return "unspecified";
  }
}

std::optional<v1::TimeFormat> ParseTimeFormat(absl::string_view name) {
  for (int f = v1::TIME_FORMAT_EPOCH_SECONDS; f <= v1::TIME_FORMAT_RFC3339; ++f) {
    const auto format = static_cast<v1::TimeFormat>(f);
    if (name == TimeFormatName(format)) return format;
  }
  return std::nullopt;
}

std::string DescribeColumnSource(const v1::ColumnMapping& column) {
  switch (column.source()) {
    case v1::COLUMN_SOURCE_TOPIC:
      return "topic";
    case v1::COLUMN_SOURCE_PARTITION:
      return "partition";
    case v1::COLUMN_SOURCE_OFFSET:
      return "offset";
    case v1::COLUMN_SOURCE_KEY:
      return "key";
    case v1::COLUMN_SOURCE_TIMESTAMP:
      return "timestamp";
    case v1::COLUMN_SOURCE_PAYLOAD:
      return "payload";
    case v1::COLUMN_SOURCE_HEADER:
      return absl::StrCat("header:", column.path());
    case v1::COLUMN_SOURCE_JSON:
      return column.path().empty() ? "json:" : column.path();
    default:
      return "unspecified";
  }
}

bool PostgresTypeAccepts(v1::ColumnType type, absl::string_view t) {
  switch (type) {
    case v1::COLUMN_TYPE_TEXT:
      return t == "text" || t == "character varying" || absl::StartsWith(t, "character varying(");
    case v1::COLUMN_TYPE_INTEGER:
      return t == "integer";
    case v1::COLUMN_TYPE_BIGINT:
      return t == "bigint";
    case v1::COLUMN_TYPE_NUMERIC:
      return t == "numeric" || absl::StartsWith(t, "numeric(");
    case v1::COLUMN_TYPE_BOOLEAN:
      return t == "boolean";
    case v1::COLUMN_TYPE_TIMESTAMPTZ:
      return t == "timestamp with time zone" ||
             (absl::StartsWith(t, "timestamp(") && absl::EndsWith(t, ") with time zone"));
    case v1::COLUMN_TYPE_JSONB:
      return t == "jsonb";
    case v1::COLUMN_TYPE_UUID:
      return t == "uuid";
    case v1::COLUMN_TYPE_BYTEA:
      return t == "bytea";
    default:
      return false;
  }
}

std::vector<std::vector<std::string>> JsonPointersOf(
    const google::protobuf::RepeatedPtrField<v1::ColumnMapping>& columns) {
  std::vector<std::vector<std::string>> pointers;
  for (const v1::ColumnMapping& c : columns) {
    if (c.source() != v1::COLUMN_SOURCE_JSON) continue;
    absl::StatusOr<std::vector<std::string>> tokens = ParseJsonPointer(c.path());
    pointers.push_back(tokens.ok() ? *std::move(tokens) : std::vector<std::string>{});
  }
  return pointers;
}

}  // namespace sluice
