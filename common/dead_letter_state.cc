#include "common/dead_letter_state.h"

namespace sluice {

const char* DeadLetterStateName(v1::DeadLetterState state) {
  switch (state) {
    case v1::DEAD_LETTER_STATE_PENDING:
      return "pending";
    case v1::DEAD_LETTER_STATE_REPLAYED:
      return "replayed";
    case v1::DEAD_LETTER_STATE_DISCARDED:
      return "discarded";
    default:
      return "";
  }
}

v1::DeadLetterState DeadLetterStateOf(absl::string_view name) {
  for (v1::DeadLetterState s : {v1::DEAD_LETTER_STATE_PENDING, v1::DEAD_LETTER_STATE_REPLAYED,
                                v1::DEAD_LETTER_STATE_DISCARDED}) {
    if (name == DeadLetterStateName(s)) return s;
  }
  return v1::DEAD_LETTER_STATE_UNSPECIFIED;
}

}  // namespace sluice
