// Names written into SQL text as quoted identifiers, so that any name PostgreSQL
// allows (mixed case, spaces, quotes) means exactly itself.
#ifndef SLUICE_WORKER_POSTGRES_SQL_IDENTIFIERS_H_
#define SLUICE_WORKER_POSTGRES_SQL_IDENTIFIERS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace sluice::worker {

// "a\"b" → "\"a\"\"b\"" (one identifier, whatever it holds).
std::string QuoteIdentifier(absl::string_view name);

// "a.b" → "\"a\".\"b\"" (each part quoted as an identifier).
std::string QuoteQualifiedName(absl::string_view name);

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_POSTGRES_SQL_IDENTIFIERS_H_
