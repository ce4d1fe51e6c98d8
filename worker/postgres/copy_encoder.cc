#include "worker/postgres/copy_encoder.h"

#include "absl/strings/str_cat.h"

namespace sluice::worker {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendNullable(std::string* out, const std::optional<std::string>& value, bool bytea) {
  if (!value) {
    out->append("\\N");
  } else if (bytea) {
    AppendCopyBytea(out, *value);
  } else {
    AppendCopyText(out, *value);
  }
}

}  // namespace

void AppendCopyText(std::string* out, absl::string_view value) {
  size_t start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char* escape = nullptr;
    switch (c) {
      case '\\':
        escape = "\\\\";
        break;
      case '\t':
        escape = "\\t";
        break;
      case '\n':
        escape = "\\n";
        break;
      case '\r':
        escape = "\\r";
        break;
      default:
        continue;
    }
    out->append(value.data() + start, i - start);
    out->append(escape);
    start = i + 1;
  }
  out->append(value.data() + start, value.size() - start);
}

void AppendCopyBytea(std::string* out, absl::string_view value) {
  const size_t at = out->size();
  out->resize(at + 3 + 2 * value.size());
  char* p = out->data() + at;
  *p++ = '\\';
  *p++ = '\\';
  *p++ = 'x';
  for (unsigned char c : value) {
    *p++ = kHex[c >> 4];
    *p++ = kHex[c & 15];
  }
}

std::string ByteaHex(absl::string_view value) {
  std::string out = "\\x";
  out.reserve(2 + 2 * value.size());
  for (unsigned char c : value) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

void AppendDeadLetter(std::string* out, absl::string_view consumer_group, const Message& m,
                      absl::string_view error, absl::string_view sqlstate) {
  AppendCopyText(out, consumer_group);
  out->push_back('\t');
  AppendCopyText(out, m.topic);
  absl::StrAppend(out, "\t", m.partition, "\t", m.offset, "\t");
  AppendNullable(out, m.key, /*bytea=*/true);
  out->push_back('\t');
  AppendNullable(out, m.payload, /*bytea=*/true);
  out->push_back('\t');
  AppendCopyText(out, error);
  out->push_back('\t');
  AppendCopyText(out, sqlstate);
  out->push_back('\n');
}

}  // namespace sluice::worker
