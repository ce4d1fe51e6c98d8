#include "common/unknown_fields.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"

namespace sluice {
namespace {

std::optional<std::string> Find(const google::protobuf::Message& m, const std::string& prefix) {
  const google::protobuf::Reflection* r = m.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = r->GetUnknownFields(m);
  if (!unknown.empty()) return absl::StrCat(prefix, "#", unknown.field(0).number());
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        if (auto found = Find(r->GetRepeatedMessage(m, f, i),
                              absl::StrCat(prefix, f->name(), "[", i, "]."))) {
          return found;
        }
      }
    } else if (auto found = Find(r->GetMessage(m, f), absl::StrCat(prefix, f->name(), "."))) {
      return found;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> FirstUnknownField(const google::protobuf::Message& message) {
  return Find(message, "");
}

}  // namespace sluice
