// What a caller of the controller may do.
#ifndef SLUICE_CONTROLLER_ROLE_H_
#define SLUICE_CONTROLLER_ROLE_H_

#include <optional>

#include "absl/strings/string_view.h"

namespace sluice::controller {

// `read`: lists, gets, stats, status, evaluations and flag watches.
// `worker`: only the WorkerControl stream (a worker's token cannot read or change
//   pipelines through the Admin API).
// `admin`: everything, the worker stream included.
enum class Role { kRead, kWorker, kAdmin };

// Whether a caller holding `held` may make a call that needs `needed`.
constexpr bool RoleAllows(Role held, Role needed) { return held == Role::kAdmin || held == needed; }

// "read", "worker", "admin".
absl::string_view RoleName(Role role);
// The inverse of RoleName; nullopt for anything else.
std::optional<Role> ParseRole(absl::string_view name);

}  // namespace sluice::controller

#endif  // SLUICE_CONTROLLER_ROLE_H_
