#include "common/arg_parser.h"

#include <cmath>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sluice {

absl::Status ParseSeconds(absl::string_view text, absl::Duration* out) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    // SimpleAtod accepts "inf" and "nan"; neither is a usable timeout.
    if (!std::isfinite(seconds)) {
      return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a finite duration"));
    }
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a duration (use seconds, e.g. 0.15, or 150ms, 2s)"));
  }
  if (d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is negative"));
  }
  *out = d;
  return absl::OkStatus();
}

absl::Status ParseBytes(absl::string_view text, int64_t* out) {
  static const struct {
    const char* suffix;
    int64_t scale;
  } kSuffixes[] = {{"GiB", int64_t{1} << 30}, {"MiB", int64_t{1} << 20},
                   {"KiB", int64_t{1} << 10}, {"B", 1}};
  absl::string_view number = text;
  int64_t scale = 1;
  for (const auto& s : kSuffixes) {
    if (absl::EndsWith(text, s.suffix)) {
      number = text.substr(0, text.size() - strlen(s.suffix));
      scale = s.scale;
      break;
    }
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(number), &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a size (use bytes, or KiB/MiB/GiB, e.g. 16MiB)"));
  }
  if (value < 0) return absl::InvalidArgumentError(absl::StrCat("'", text, "' is negative"));
  *out = value * scale;
  return absl::OkStatus();
}

void ArgParser::Add(const std::string& name, Flag flag) {
  order_.push_back(name);
  flags_[name] = std::move(flag);
}

void ArgParser::AddString(const std::string& name, std::string* out, const std::string& help) {
  Add(name, {[out](absl::string_view v) {
               *out = std::string(v);
               return absl::OkStatus();
             },
             help});
}

void ArgParser::AddInt(const std::string& name, int64_t* out, const std::string& help) {
  Add(name, {[out](absl::string_view v) {
               if (!absl::SimpleAtoi(v, out)) {
                 return absl::InvalidArgumentError(absl::StrCat("'", v, "' is not an integer"));
               }
               return absl::OkStatus();
             },
             help});
}

void ArgParser::AddInt(const std::string& name, int64_t* out, int64_t min, int64_t max,
                       const std::string& help) {
  Add(name, {[out, min, max](absl::string_view v) {
               int64_t value = 0;
               if (!absl::SimpleAtoi(v, &value)) {
                 return absl::InvalidArgumentError(absl::StrCat("'", v, "' is not an integer"));
               }
               if (value < min || value > max) {
                 return absl::InvalidArgumentError(
                     absl::StrCat("'", v, "' is out of range (", min, " to ", max, ")"));
               }
               *out = value;
               return absl::OkStatus();
             },
             help});
}

void ArgParser::AddSeconds(const std::string& name, absl::Duration* out,
                           const std::string& help) {
  Add(name, {[out](absl::string_view v) { return ParseSeconds(v, out); }, help});
}

void ArgParser::AddBytes(const std::string& name, int64_t* out, const std::string& help) {
  Add(name, {[out](absl::string_view v) { return ParseBytes(v, out); }, help});
}

void ArgParser::AddBool(const std::string& name, bool* out, const std::string& help) {
  Flag flag{[out](absl::string_view v) {
              if (v == "true" || v == "1" || v == "yes") {
                *out = true;
              } else if (v == "false" || v == "0" || v == "no") {
                *out = false;
              } else {
                return absl::InvalidArgumentError(absl::StrCat("'", v, "' is not true or false"));
              }
              return absl::OkStatus();
            },
            help, /*is_bool=*/true};
  Add(name, std::move(flag));
}

void ArgParser::AddRepeated(const std::string& name, std::vector<std::string>* out,
                            const std::string& help) {
  Add(name, {[out](absl::string_view v) {
               out->emplace_back(v);
               return absl::OkStatus();
             },
             help});
}

void ArgParser::AddCustom(const std::string& name,
                          std::function<absl::Status(absl::string_view)> set,
                          const std::string& help) {
  Add(name, {std::move(set), help});
}

absl::Status ArgParser::Parse(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      if (!allow_positional_) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
      }
      positional_.emplace_back(arg);
      continue;
    }
    arg.remove_prefix(2);
    std::string name;
    absl::string_view value;
    bool has_value = false;
    const size_t eq = arg.find('=');
    if (eq != absl::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = arg.substr(eq + 1);
      has_value = true;
    } else {
      name = std::string(arg);
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!has_value) {
      if (it->second.is_bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
    }
    absl::Status s = it->second.set(value);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", s.message()));
    }
    set_.insert(name);
  }
  return absl::OkStatus();
}

std::string ArgParser::Usage() const {
  std::string out = absl::StrCat("usage: ", program_, " [flags]\n");
  for (const std::string& name : order_) {
    absl::StrAppendFormat(&out, "  --%-26s %s\n", name, flags_.at(name).help);
  }
  return out;
}

}  // namespace sluice
