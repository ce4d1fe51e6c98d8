// How many of a pipeline's dead letters are in each state.
#ifndef SLUICE_CONTROLLER_DEAD_LETTER_COUNTS_H_
#define SLUICE_CONTROLLER_DEAD_LETTER_COUNTS_H_

#include <cstdint>

namespace sluice::controller {

// A pipeline's dead letters in sluice_dead_letters, by state.
struct DeadLetterCounts {
  int64_t pending = 0;
  int64_t replayed = 0;
  int64_t discarded = 0;
};

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_DEAD_LETTER_COUNTS_H_
