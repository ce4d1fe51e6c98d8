// A small command-line parser for Sluice's binaries. Only main.cc files use it:
// they turn argv into a config struct and pass that down (library code never reads flags).
#ifndef SLUICE_COMMON_ARG_PARSER_H_
#define SLUICE_COMMON_ARG_PARSER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace sluice {

// Parses `--name value` and `--name=value` flags into caller-owned variables.
// Every error is INVALID_ARGUMENT with a one-line message that names the flag.
class ArgParser {
 public:
  explicit ArgParser(std::string program) : program_(std::move(program)) {}

  void AddString(const std::string& name, std::string* out, const std::string& help);
  void AddInt(const std::string& name, int64_t* out, const std::string& help);
  // An integer within [min, max] (e.g. the range of the int32 field it fills, so
  // that a bigger value is refused instead of wrapping).
  void AddInt(const std::string& name, int64_t* out, int64_t min, int64_t max,
              const std::string& help);
  // A duration given in (fractional) seconds, e.g. "0.15", or with a unit: "150ms", "2s".
  void AddSeconds(const std::string& name, absl::Duration* out, const std::string& help);
  // A size in bytes, optionally with a KiB/MiB/GiB suffix ("16MiB").
  void AddBytes(const std::string& name, int64_t* out, const std::string& help);
  // A switch: `--name`, `--name=true` or `--name=false`.
  void AddBool(const std::string& name, bool* out, const std::string& help);
  // A flag that may be given several times; each value is appended.
  void AddRepeated(const std::string& name, std::vector<std::string>* out,
                   const std::string& help);
  // A flag whose value is checked and stored by `set`; its error message is
  // prefixed with the flag's name.
  void AddCustom(const std::string& name, std::function<absl::Status(absl::string_view)> set,
                 const std::string& help);

  // Parses argv[1..]. Returns INVALID_ARGUMENT on an unknown flag, a missing or
  // malformed value, or a positional argument (unless AllowPositional()).
  absl::Status Parse(int argc, const char* const* argv);

  void AllowPositional() { allow_positional_ = true; }
  const std::vector<std::string>& positional() const { return positional_; }
  // True when --help or -h was given; the caller prints Usage() and exits 0.
  bool help_requested() const { return help_requested_; }
  // True when the flag appeared on the command line.
  bool WasSet(const std::string& name) const { return set_.count(name) > 0; }
  std::string Usage() const;

 private:
  struct Flag {
    std::function<absl::Status(absl::string_view)> set;
    std::string help;
    bool is_bool = false;
  };
  void Add(const std::string& name, Flag flag);

  std::string program_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::set<std::string> set_;
  std::vector<std::string> positional_;
  bool allow_positional_ = false;
  bool help_requested_ = false;
};

// Parses "0.15", "150ms", "2s", "5m" into a duration; rejects negatives.
absl::Status ParseSeconds(absl::string_view text, absl::Duration* out);
// Parses "1048576", "512KiB", "16MiB", "1GiB"; rejects negatives.
absl::Status ParseBytes(absl::string_view text, int64_t* out);

}  // namespace sluice

#endif  // SLUICE_COMMON_ARG_PARSER_H_
