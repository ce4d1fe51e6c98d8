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

namespace {

// Whether the pipeline gets workers at all.
bool Assignable(const v1::Pipeline& p) { return !p.paused() && CheckAssignable(p.config()).ok(); }

size_t DesiredWorkers(const v1::Pipeline& p) {
  return std::max<uint32_t>(p.config().desired_workers(), 1);
}

uint64_t Rank(const std::string& pipeline, const std::string& worker_id) {
  return StableHash64(absl::StrCat(pipeline, "/", worker_id));
}

}  // namespace

PipelinePicks PickWorkers(const std::vector<v1::Pipeline>& pipelines,
                          const std::vector<WorkerCandidate>& workers) {
  PipelinePicks out;
  for (const v1::Pipeline& p : pipelines) {
    if (!Assignable(p)) continue;
    const std::string& name = p.config().name();
    Picks ranked;
    for (const WorkerCandidate& w : workers) {
      if (w.draining || !CanRun(w, p.config())) continue;
      ranked.emplace_back(Rank(name, w.worker_id), w.worker_id);
    }
    std::sort(ranked.rbegin(), ranked.rend());
    ranked.resize(std::min(DesiredWorkers(p), ranked.size()));
    out[name] = std::move(ranked);
  }
  return out;
}

std::map<std::string, std::string> AddWorker(const std::map<std::string, v1::Pipeline>& pipelines,
                                             const WorkerCandidate& worker, PipelinePicks* picks) {
  std::map<std::string, std::string> changed;
  if (worker.draining) return changed;
  for (const auto& [name, p] : pipelines) {
    if (!Assignable(p) || !CanRun(worker, p.config())) continue;
    Picks& ranked = (*picks)[name];
    const std::pair<uint64_t, std::string> entry(Rank(name, worker.worker_id), worker.worker_id);
    // Descending: the first pick ranking below the worker is where it goes.
    auto at = std::lower_bound(ranked.begin(), ranked.end(), entry,
                               [](const auto& a, const auto& b) { return a > b; });
    if (at != ranked.end() && *at == entry) continue;  // already picked
    const size_t desired = DesiredWorkers(p);
    if (static_cast<size_t>(at - ranked.begin()) >= desired) continue;
    ranked.insert(at, entry);
    std::string displaced;
    if (ranked.size() > desired) {
      displaced = ranked.back().second;
      ranked.pop_back();
    }
    changed[name] = displaced;
  }
  return changed;
}

std::map<std::string, std::vector<std::string>> AssignPipelines(
    const std::vector<v1::Pipeline>& pipelines, const std::vector<WorkerCandidate>& workers) {
  std::map<std::string, std::vector<std::string>> out;
  for (const WorkerCandidate& w : workers) out[w.worker_id];
  const PipelinePicks picks = PickWorkers(pipelines, workers);
  for (const v1::Pipeline& p : pipelines) {
    auto it = picks.find(p.config().name());
    if (it == picks.end()) continue;
    for (const auto& [rank, worker_id] : it->second) out[worker_id].push_back(p.config().name());
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
