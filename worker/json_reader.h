// One pass over a JSON text that both checks it against the grammar PostgreSQL's
// json/jsonb input functions accept (RFC 8259, any value at the top level, and
// PostgreSQL's rules for \u surrogates), without the limits a fast parser adds
// (numbers of any size, nesting of any depth), and finds the values a pipeline's
// JSON Pointers name: the validator, the routing key and the column mapping read
// the same pass.
#ifndef SLUICE_WORKER_JSON_READER_H_
#define SLUICE_WORKER_JSON_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sluice::worker {

// The JSON Pointers one pipeline reads from every payload, as a tree of their
// tokens (common/json_pointer.h parses them). Immutable once built; thread-safe.
class JsonPointerSet {
 public:
  JsonPointerSet() : JsonPointerSet(std::vector<std::vector<std::string>>{}) {}
  // Pointer i fills slot i of every read.
  explicit JsonPointerSet(const std::vector<std::vector<std::string>>& pointers);

  size_t size() const { return slots_; }

 private:
  friend class JsonReader;
  struct Child {
    std::string token;
    bool is_index = false;  // the token is an array index (also a member name)
    uint32_t index = 0;
    int node = 0;
  };
  struct Node {
    std::vector<Child> children;
    std::vector<int> slots;          // pointers ending here
    std::vector<int> subtree_slots;  // pointers ending here or below
  };
  int ChildOf(int node, absl::string_view member) const;
  int ElementOf(int node, uint32_t index) const;

  std::vector<Node> nodes_;  // nodes_[0] is the whole document
  size_t slots_ = 0;
};

// Where a pointer's value lies in the text: bytes [begin, end), its first byte
// telling its kind ('"' a string, '{' an object, '[' an array, 't'/'f' a boolean,
// 'n' null, else a number). found is false when the pointer names nothing.
struct JsonSpan {
  size_t begin = 0;
  size_t end = 0;
  bool found = false;
};

// What one ReadJson pass found: its verdict and, when OK, each pointer's span.
struct JsonRead {
  absl::Status syntax;
  std::vector<JsonSpan> spans;
};

// Reads `json` once: OK when it is one JSON value, optionally surrounded by JSON
// whitespace (space, tab, LF, CR), that PostgreSQL's JSON lexer and parser accept;
// otherwise INVALID_ARGUMENT whose message says what is wrong and at which byte.
// On OK, (*spans)[i] holds the value pointer i of `pointers` names; of several
// members with the same name the last counts, as in jsonb.
// Checks the grammar only: the caller checks the text encoding (bytes >= 0x80 are
// taken as they are inside strings), and limits that depend on the server (numeric's
// range, jsonb's size, stack depth) are not checked. No recursion.
absl::Status ReadJson(absl::string_view json, const JsonPointerSet& pointers,
                      std::vector<JsonSpan>* spans);

// ReadJson without pointers. Thread-safe.
absl::Status CheckJsonSyntax(absl::string_view json);

// The value of the JSON string literal `literal` (quotes included, escapes
// decoded to UTF-8), appended to `out`. `literal` must be a string ReadJson
// accepted.
void AppendJsonStringValue(absl::string_view literal, std::string* out);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_JSON_READER_H_
