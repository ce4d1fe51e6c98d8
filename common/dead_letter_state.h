// The names of a dead letter's states, as sluice_dead_letters.state stores them
// and sluicectl spells them.
#ifndef SLUICE_COMMON_DEAD_LETTER_STATE_H_
#define SLUICE_COMMON_DEAD_LETTER_STATE_H_

#include "absl/strings/string_view.h"
#include "sluice/v1/admin.pb.h"

namespace sluice {

// "pending", "replayed" or "discarded"; "" for UNSPECIFIED (no state selected).
const char* DeadLetterStateName(v1::DeadLetterState state);

// The state named `name`; UNSPECIFIED for any other text.
v1::DeadLetterState DeadLetterStateOf(absl::string_view name);

}  // namespace sluice

#endif  // SLUICE_COMMON_DEAD_LETTER_STATE_H_
