#include "common/column_flag.h"

#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/column_mapping.h"

namespace sluice {
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

std::string ParseBadRowsFlag(absl::string_view value, v1::BadRowTolerance* t) {
  t->Clear();
  if (value == "all") {
    t->set_mode(v1::BadRowTolerance::MODE_ALL);
  } else if (value == "none") {
    t->set_mode(v1::BadRowTolerance::MODE_NONE);
  } else if (absl::StartsWith(value, "rate:")) {
    t->set_mode(v1::BadRowTolerance::MODE_RATE);
    std::vector<std::string> parts = absl::StrSplit(value.substr(5), absl::MaxSplits('/', 1));
    double rate = 0;
    if (!absl::SimpleAtod(parts[0], &rate)) {
      return absl::StrCat("--bad-rows: '", parts[0], "' is not a rate (0.01 for 1%)");
    }
    t->set_max_rate(rate);
    if (parts.size() == 2) {
      absl::Duration window;
      if (!absl::ParseDuration(parts[1], &window)) {
        return absl::StrCat("--bad-rows: '", parts[1], "' is not a duration (5m)");
      }
      const int64_t ms = absl::ToInt64Milliseconds(window);
      t->mutable_window()->set_seconds(ms / 1000);
      t->mutable_window()->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
    }
  } else {
    return absl::StrCat("--bad-rows: '", value, "' is not all, none or rate:R[/WINDOW]");
  }
  return "";
}

}  // namespace sluice
