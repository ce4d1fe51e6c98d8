// Builds libpq connection strings with correctly quoted values.
#ifndef SLUICE_COMMON_PG_CONNINFO_H_
#define SLUICE_COMMON_PG_CONNINFO_H_

#include <string>
#include <utility>
#include <vector>

namespace sluice {

// {{"host","db"},{"password","a b'c"}} → "host='db' password='a b\'c'". Empty values are left out.
inline std::string PostgresConnInfo(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out;
  for (const auto& [key, value] : kv) {
    if (value.empty()) continue;
    if (!out.empty()) out += ' ';
    out += key + "='";
    for (char c : value) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    out += '\'';
  }
  return out;
}

}  // namespace sluice

#endif  // SLUICE_COMMON_PG_CONNINFO_H_
