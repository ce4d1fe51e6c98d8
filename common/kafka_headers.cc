#include "common/kafka_headers.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace sluice {
namespace {

void AppendLength(int32_t n, std::string* out) {
  const uint32_t u = static_cast<uint32_t>(n);
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(u >> shift));
}

bool ReadLength(absl::string_view* in, int32_t* n) {
  if (in->size() < 4) return false;
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u = (u << 8) | static_cast<unsigned char>((*in)[i]);
  in->remove_prefix(4);
  *n = static_cast<int32_t>(u);
  return true;
}

}  // namespace

std::string EncodeKafkaHeaders(const KafkaHeaders& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    AppendLength(static_cast<int32_t>(name.size()), &out);
    out.append(name);
    AppendLength(value ? static_cast<int32_t>(value->size()) : -1, &out);
    if (value) out.append(*value);
  }
  return out;
}

absl::StatusOr<KafkaHeaders> DecodeKafkaHeaders(absl::string_view encoded) {
  KafkaHeaders out;
  while (!encoded.empty()) {
    int32_t name_size = 0;
    int32_t value_size = 0;
    if (!ReadLength(&encoded, &name_size) || name_size < 0 ||
        encoded.size() < static_cast<size_t>(name_size)) {
      return absl::InvalidArgumentError(absl::StrCat("header ", out.size(), ": bad name length"));
    }
    std::string name(encoded.substr(0, static_cast<size_t>(name_size)));
    encoded.remove_prefix(static_cast<size_t>(name_size));
    if (!ReadLength(&encoded, &value_size) || value_size < -1 ||
        (value_size >= 0 && encoded.size() < static_cast<size_t>(value_size))) {
      return absl::InvalidArgumentError(absl::StrCat("header ", out.size(), ": bad value length"));
    }
    std::optional<std::string> value;
    if (value_size >= 0) {
      value.emplace(encoded.substr(0, static_cast<size_t>(value_size)));
      encoded.remove_prefix(static_cast<size_t>(value_size));
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

}  // namespace sluice
