// The controller's bearer tokens, read from --auth-tokens-file.
#ifndef SLUICE_CONTROLLER_TOKEN_TABLE_H_
#define SLUICE_CONTROLLER_TOKEN_TABLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/role.h"

namespace sluice::controller {

struct TokenHolder {
  // Who holds the token: the audit log's actor, and the owner of a worker id.
  std::string name;
  Role role;
};

class TokenTable {
 public:
  // One token per line, "NAME ROLE TOKEN" separated by blanks; blank lines and
  // lines starting with '#' are skipped. NAME is 1..63 bytes of [A-Za-z0-9_.@-],
  // ROLE is read, worker or admin, TOKEN is at least kMinTokenBytes printable
  // ASCII bytes (no blanks). Names and tokens are unique. Errors name the line, never the token.
  static absl::StatusOr<TokenTable> Parse(absl::string_view contents);

  // The holder of `presented`, or nullptr. Compares against every token, each in
  // time independent of where the bytes differ, so the answer's timing says
  // nothing about how close a guess was.
  const TokenHolder* Find(absl::string_view presented) const;

  size_t size() const { return entries_.size(); }

  // Short tokens can be guessed; 16 bytes is 128 bits only for random bytes,
  // so operators are told to generate them (`openssl rand -hex 32`).
  static constexpr size_t kMinTokenBytes = 16;

 private:
  struct Entry {
    TokenHolder holder;
    std::string token;
  };
  std::vector<Entry> entries_;
};

// Equality in time that depends only on the lengths.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_TOKEN_TABLE_H_
