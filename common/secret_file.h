// Reads a secret (a password) from a file, so it never has to appear on argv.
#ifndef SLUICE_COMMON_SECRET_FILE_H_
#define SLUICE_COMMON_SECRET_FILE_H_

#include <fstream>
#include <sstream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace sluice {

// The file's content without trailing whitespace (a final newline is common).
// INVALID_ARGUMENT "cannot read PATH" if it cannot be read.
inline absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripTrailingAsciiWhitespace(ss.str()));
}

}  // namespace sluice

#endif  // SLUICE_COMMON_SECRET_FILE_H_
