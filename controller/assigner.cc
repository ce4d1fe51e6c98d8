#include "controller/assigner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/kafka_property_policy.h"
#include "common/stable_hash.h"

namespace sluice::controller {

bool CanRun(const WorkerCandidate& worker, const v1::PipelineConfig& config) {
  if (!config.has_rollout() || !config.rollout().has_json_field()) return true;
  const v1::RoutingKeyForm form = config.rollout().key_form();
  if (form == v1::ROUTING_KEY_FORM_UNSPECIFIED || form == v1::ROUTING_KEY_FORM_MINIFIED) {
    return true;
  }
  return std::find(worker.routing_key_forms.begin(), worker.routing_key_forms.end(), form) !=
         worker.routing_key_forms.end();
}

absl::Status CheckAssignable(const v1::PipelineConfig& config) {
  absl::Status s = CheckPipelineKafkaProperties(config.kafka_properties());
  if (s.ok()) return s;
  return absl::FailedPreconditionError(absl::StrCat(
      "not assigned to any worker: ", s.message(),
      "; update the pipeline without it (pipelines update --remove-kafka-property NAME)"));
}

std::map<std::string, std::vector<std::string>> AssignPipelines(
    const std::vector<v1::Pipeline>& pipelines, const std::vector<WorkerCandidate>& workers) {
  std::map<std::string, std::vector<std::string>> out;
  std::vector<const WorkerCandidate*> eligible;
  for (const WorkerCandidate& w : workers) {
    out[w.worker_id];
    if (!w.draining) eligible.push_back(&w);
  }
  for (const v1::Pipeline& p : pipelines) {
    if (p.paused() || !CheckAssignable(p.config()).ok()) continue;
    const std::string& name = p.config().name();
    std::vector<std::pair<uint64_t, std::string>> ranked;
    for (const WorkerCandidate* w : eligible) {
      if (!CanRun(*w, p.config())) continue;
      ranked.emplace_back(StableHash64(absl::StrCat(name, "/", w->worker_id)), w->worker_id);
    }
    std::sort(ranked.rbegin(), ranked.rend());
    const size_t n = std::min<size_t>(std::max<uint32_t>(p.config().desired_workers(), 1),
                                      ranked.size());
    for (size_t i = 0; i < n; ++i) out[ranked[i].second].push_back(name);
  }
  return out;
}

std::string AssignmentVersion(const std::vector<const v1::Pipeline*>& pipelines,
                              const std::vector<const v1::Flag*>& flags, bool draining) {
  std::vector<std::string> parts;
  for (const v1::Pipeline* p : pipelines) {
    parts.push_back(absl::StrCat(p->config().name(), "@", p->version(), p->paused() ? "p" : ""));
  }
  for (const v1::Flag* f : flags) parts.push_back(absl::StrCat("flag:", f->name(), "@", f->version()));
  std::sort(parts.begin(), parts.end());
  std::string text = draining ? "draining;" : "";
  for (const std::string& s : parts) absl::StrAppend(&text, s, ";");
  return absl::StrFormat("%016x", StableHash64(text));
}

}  // namespace sluice::controller
