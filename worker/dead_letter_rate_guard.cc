#include "worker/dead_letter_rate_guard.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sluice::worker {

std::optional<std::string> DeadLetterRateGuard::Record(absl::Time now, int64_t items,
                                                       int64_t dead_letters) {
  if (max_rate_ <= 0) return std::nullopt;
  entries_.push_back({now, items, dead_letters});
  items_ += items;
  dead_letters_ += dead_letters;
  while (!entries_.empty() && entries_.front().at <= now - window_) {
    items_ -= entries_.front().items;
    dead_letters_ -= entries_.front().dead_letters;
    entries_.pop_front();
  }
  if (items_ < kMinItems || dead_letters_ <= max_rate_ * static_cast<double>(items_)) {
    return std::nullopt;
  }
  return absl::StrFormat(
      "bad rows: %d dead letters in the last %s are %.2f%% of %d items, above the pipeline's "
      "tolerance of %.2f%% (bad_rows.max_rate); the dead letters are in sluice_dead_letters",
      dead_letters_, absl::FormatDuration(window_),
      100.0 * static_cast<double>(dead_letters_) / static_cast<double>(items_), items_,
      100.0 * max_rate_);
}

}  // namespace sluice::worker
