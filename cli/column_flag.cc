#include "cli/column_flag.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/column_mapping.h"

namespace sluice::cli {
namespace {

// "jsonb" or "timestamptz(epoch_ms)" → the type and the format; nullopt otherwise.
std::optional<std::pair<v1::ColumnType, v1::TimeFormat>> ParseType(absl::string_view text) {
  v1::TimeFormat format = v1::TIME_FORMAT_UNSPECIFIED;
  const size_t open = text.find('(');
  if (open != absl::string_view::npos) {
    if (!absl::EndsWith(text, ")")) return std::nullopt;
    std::optional<v1::TimeFormat> f =
        ParseTimeFormat(text.substr(open + 1, text.size() - open - 2));
    if (!f) return std::nullopt;
    format = *f;
    text = text.substr(0, open);
  }
  std::optional<v1::ColumnType> type = ParseColumnType(text);
  if (!type) return std::nullopt;
  return std::make_pair(*type, format);
}

}  // namespace

std::string ParseColumnFlag(absl::string_view value, v1::ColumnMapping* column) {
  const size_t eq = value.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::StrCat("--column: '", value, "' is not NAME=SOURCE[:TYPE]");
  }
  column->set_column(std::string(value.substr(0, eq)));
  absl::string_view source = value.substr(eq + 1);
  const size_t colon = source.rfind(':');
  std::optional<std::pair<v1::ColumnType, v1::TimeFormat>> type;
  if (colon != absl::string_view::npos) {
    const absl::string_view suffix = source.substr(colon + 1);
    type = ParseType(suffix);
    if (type) {
      source = source.substr(0, colon);
    } else if (const size_t open = suffix.find('(');
               open != absl::string_view::npos && ParseColumnType(suffix.substr(0, open))) {
      // A type with a format it does not have: a typo, not part of a name.
      return absl::StrCat("--column ", column->column(), ": '", suffix,
                          "': the format is epoch_s, epoch_ms or rfc3339");
    }
  }
  if (source == "topic") {
    column->set_source(v1::COLUMN_SOURCE_TOPIC);
  } else if (source == "partition") {
    column->set_source(v1::COLUMN_SOURCE_PARTITION);
  } else if (source == "offset") {
    column->set_source(v1::COLUMN_SOURCE_OFFSET);
  } else if (source == "key") {
    column->set_source(v1::COLUMN_SOURCE_KEY);
  } else if (source == "timestamp") {
    column->set_source(v1::COLUMN_SOURCE_TIMESTAMP);
  } else if (source == "payload") {
    column->set_source(v1::COLUMN_SOURCE_PAYLOAD);
  } else if (absl::StartsWith(source, "header:") && source.size() > 7) {
    column->set_source(v1::COLUMN_SOURCE_HEADER);
    column->set_path(std::string(source.substr(7)));
  } else if (absl::StartsWith(source, "/")) {
    column->set_source(v1::COLUMN_SOURCE_JSON);
    column->set_path(std::string(source));
  } else if (source == "json:") {
    column->set_source(v1::COLUMN_SOURCE_JSON);
  } else {
    return absl::StrCat("--column ", column->column(), ": '", source,
                        "' is not topic, partition, offset, key, timestamp, payload, "
                        "header:NAME or a JSON Pointer (/field/...)");
  }
  if (type) {
    column->set_type(type->first);
    column->set_time_format(type->second);
  } else {
    column->set_type(DefaultColumnType(column->source()));
  }
  return "";
}

std::string FormatColumnType(const v1::ColumnMapping& c) {
  std::string type = ColumnTypeName(c.type());
  if (c.time_format() != v1::TIME_FORMAT_UNSPECIFIED) {
    absl::StrAppend(&type, "(", TimeFormatName(c.time_format()), ")");
  }
  return type;
}

}  // namespace sluice::cli
