// The JSON grammar PostgreSQL's json/jsonb input functions accept (RFC 8259, any
// value at the top level, and PostgreSQL's rules for \u surrogates), checked without
// the limits a fast parser adds: numbers of any size, nesting of any depth.
#ifndef SLUICE_WORKER_JSON_SYNTAX_H_
#define SLUICE_WORKER_JSON_SYNTAX_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sluice::worker {

// OK when `json` is one JSON value, optionally surrounded by JSON whitespace (space,
// tab, LF, CR), that PostgreSQL's JSON lexer and parser accept; otherwise
// INVALID_ARGUMENT whose message says what is wrong and at which byte.
// Checks the grammar only: the caller checks the text encoding (bytes >= 0x80 are
// taken as they are inside strings), and limits that depend on the server (numeric's
// range, jsonb's size, stack depth) are not checked. Thread-safe; no recursion.
absl::Status CheckJsonSyntax(absl::string_view json);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_JSON_SYNTAX_H_
