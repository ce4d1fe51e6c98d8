// A unit test's data files (Bazel `data`), by workspace-relative path.
#ifndef SLUICE_TESTS_FAKES_RUNFILES_H_
#define SLUICE_TESTS_FAKES_RUNFILES_H_

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace sluice::testing {

inline std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "") + "/" + path;
}

// The whole file; "" when it cannot be read.
inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_FAKES_RUNFILES_H_
