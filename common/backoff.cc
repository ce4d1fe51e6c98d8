#include "common/backoff.h"

#include <algorithm>
#include <cmath>

namespace sluice {

ExponentialBackoff::ExponentialBackoff(absl::Duration initial, absl::Duration max,
                                       double multiplier)
    : initial_(initial), max_(max), multiplier_(multiplier) {}

absl::Duration ExponentialBackoff::NextDelay() {
  const double scale = std::pow(multiplier_, std::min(attempt_, 62));
  ++attempt_;
  const absl::Duration ceiling = std::min(initial_ * scale, max_);
  const double fraction = absl::Uniform(rng_, 0.5, 1.0);
  return ceiling * fraction;
}

}  // namespace sluice
