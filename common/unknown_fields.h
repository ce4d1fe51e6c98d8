// Fields a message carries that this build does not know: a config from a newer
// controller. Protobuf keeps them without a word, so a component that would run
// such a config as if the field were absent (an upsert pipeline run as an insert)
// must look for them and refuse instead.
#ifndef SLUICE_COMMON_UNKNOWN_FIELDS_H_
#define SLUICE_COMMON_UNKNOWN_FIELDS_H_

#include <optional>
#include <string>

#include "google/protobuf/message.h"

namespace sluice {

// The path of the first unknown field in `message` or any message it holds
// ("columns[2].#17"), or nullopt when there is none.
std::optional<std::string> FirstUnknownField(const google::protobuf::Message& message);

}  // namespace sluice

#endif  // SLUICE_COMMON_UNKNOWN_FIELDS_H_
