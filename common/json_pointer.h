// JSON Pointers (RFC 6901): "/body/project_id" names the member "project_id" of the
// member "body"; "~1" stands for "/" and "~0" for "~" inside a name; "" names the
// whole document. A token also selects an array element by its decimal index.
#ifndef SLUICE_COMMON_JSON_POINTER_H_
#define SLUICE_COMMON_JSON_POINTER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace sluice {

// The pointer's reference tokens, unescaped; INVALID_ARGUMENT when `pointer` is not
// "" and does not start with "/", or holds a "~" not followed by "0" or "1".
absl::StatusOr<std::vector<std::string>> ParseJsonPointer(absl::string_view pointer);

// Whether `token` selects array element `*index`: decimal digits without a leading
// zero ("0" itself excepted), fitting in 32 bits.
bool JsonPointerIndex(absl::string_view token, uint32_t* index);

}  // namespace sluice

#endif  // SLUICE_COMMON_JSON_POINTER_H_
