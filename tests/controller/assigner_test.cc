#include "controller/assigner.h"

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sluice::controller {
namespace {

v1::Pipeline P(const std::string& name, uint32_t desired = 1, uint64_t version = 1,
               bool paused = false) {
  v1::Pipeline p;
  p.mutable_config()->set_name(name);
  p.mutable_config()->set_desired_workers(desired);
  p.set_version(version);
  p.set_paused(paused);
  return p;
}

std::vector<WorkerCandidate> Workers(int n) {
  std::vector<WorkerCandidate> out;
  for (int i = 0; i < n; ++i) out.push_back({absl::StrCat("w", i), false});
  return out;
}

int Count(const std::map<std::string, std::vector<std::string>>& a, const std::string& p) {
  int n = 0;
  for (const auto& [w, ps] : a) n += std::count(ps.begin(), ps.end(), p);
  return n;
}

TEST(AssignerTest, EachPipelineGetsItsDesiredWorkers) {
  auto a = AssignPipelines({P("a", 1), P("b", 2), P("c", 5)}, Workers(3));
  EXPECT_EQ(Count(a, "a"), 1);
  EXPECT_EQ(Count(a, "b"), 2);
  EXPECT_EQ(Count(a, "c"), 3);  // capped at the workers there are
  EXPECT_EQ(a.size(), 3u);
}

TEST(AssignerTest, PausedPipelinesAndDrainingWorkersGetNothing) {
  std::vector<WorkerCandidate> workers = Workers(3);
  workers[1].draining = true;
  auto a = AssignPipelines({P("a", 3), P("b", 1, 1, /*paused=*/true)}, workers);
  EXPECT_TRUE(a.at("w1").empty());
  EXPECT_EQ(Count(a, "a"), 2);
  EXPECT_EQ(Count(a, "b"), 0);
}

TEST(AssignerTest, SpreadsSinglePipelinesOverWorkers) {
  std::vector<v1::Pipeline> pipelines;
  for (int i = 0; i < 300; ++i) pipelines.push_back(P(absl::StrCat("p", i)));
  auto a = AssignPipelines(pipelines, Workers(3));
  for (const auto& [w, ps] : a) {
    EXPECT_GT(ps.size(), 70u) << w;
    EXPECT_LT(ps.size(), 130u) << w;
  }
}

TEST(AssignerTest, AWorkerLeavingMovesOnlyItsPipelines) {
  std::vector<v1::Pipeline> pipelines;
  for (int i = 0; i < 50; ++i) pipelines.push_back(P(absl::StrCat("p", i)));
  auto before = AssignPipelines(pipelines, Workers(4));
  std::vector<WorkerCandidate> fewer = Workers(4);
  fewer.erase(fewer.begin() + 2);  // w2 leaves
  auto after = AssignPipelines(pipelines, fewer);
  for (const std::string& w : {"w0", "w1", "w3"}) {
    std::set<std::string> kept(before.at(w).begin(), before.at(w).end());
    for (const std::string& p : kept) {
      EXPECT_NE(std::find(after.at(w).begin(), after.at(w).end(), p), after.at(w).end())
          << p << " moved away from " << w;
    }
  }
}

TEST(AssignerTest, SameInputSameAssignment) {
  EXPECT_EQ(AssignPipelines({P("a", 2), P("b")}, Workers(5)),
            AssignPipelines({P("a", 2), P("b")}, Workers(5)));
}

TEST(AssignmentVersionTest, ChangesWithContentNotOrder) {
  v1::Pipeline a = P("a", 1, 3), b = P("b", 1, 7);
  const std::string v = AssignmentVersion({&a, &b}, {}, false);
  EXPECT_EQ(v, AssignmentVersion({&b, &a}, {}, false));
  EXPECT_EQ(v.size(), 16u);
  v1::Pipeline a4 = P("a", 1, 4);
  EXPECT_NE(v, AssignmentVersion({&a4, &b}, {}, false));
  EXPECT_NE(v, AssignmentVersion({&a, &b}, {}, true));
  EXPECT_NE(AssignmentVersion({}, {}, false), AssignmentVersion({}, {}, true));
  v1::Flag f1, f2;
  f1.set_name("f");
  f1.set_version(1);
  f2.set_name("f");
  f2.set_version(2);
  EXPECT_NE(AssignmentVersion({&a}, {&f1}, false), AssignmentVersion({&a}, {&f2}, false));
}

v1::Pipeline JsonRollout(const std::string& name, v1::RoutingKeyForm form, uint32_t desired) {
  v1::Pipeline p = P(name, desired);
  v1::Rollout* r = p.mutable_config()->mutable_rollout();
  r->set_flag("kafka-ingest");
  r->set_json_field("project_id");
  r->set_key_form(form);
  r->set_skip(true);
  return p;
}

TEST(AssignerTest, RawJsonKeysGoOnlyToWorkersThatAnnounceThem) {
  // A rolling upgrade: w0 and w2 are old builds, w1 announces RAW_JSON.
  std::vector<WorkerCandidate> workers = Workers(3);
  workers[1].routing_key_forms = {v1::ROUTING_KEY_FORM_RAW_JSON};
  auto a = AssignPipelines({JsonRollout("raw", v1::ROUTING_KEY_FORM_RAW_JSON, 3),
                            JsonRollout("old", v1::ROUTING_KEY_FORM_UNSPECIFIED, 3),
                            JsonRollout("min", v1::ROUTING_KEY_FORM_MINIFIED, 3)},
                           workers);
  EXPECT_EQ(a.at("w0"), (std::vector<std::string>{"old", "min"}));
  EXPECT_EQ(a.at("w1"), (std::vector<std::string>{"raw", "old", "min"}));
  EXPECT_EQ(a.at("w2"), (std::vector<std::string>{"old", "min"}));
}

TEST(AssignerTest, RawJsonPipelineWaitsWhileOnlyOldWorkersExist) {
  auto a = AssignPipelines({JsonRollout("raw", v1::ROUTING_KEY_FORM_RAW_JSON, 1)}, Workers(2));
  EXPECT_EQ(Count(a, "raw"), 0);
  WorkerCandidate kafka_key_only{"w", false, {}};
  v1::Pipeline by_kafka_key = P("k");
  by_kafka_key.mutable_config()->mutable_rollout()->set_kafka_key(true);
  EXPECT_TRUE(CanRun(kafka_key_only, by_kafka_key.config()));
  EXPECT_FALSE(CanRun(kafka_key_only, JsonRollout("raw", v1::ROUTING_KEY_FORM_RAW_JSON, 1).config()));
}

// Pipelines stored before the property allowlist may hold what workers must
// never receive (a kinit command, a plugin): they wait unassigned, and the reason
// is what `pipelines status` shows.
TEST(AssignerTest, StoredPipelineWithAForbiddenPropertyGoesToNoWorker) {
  v1::Pipeline bad = P("bad", 3);
  (*bad.mutable_config()->mutable_kafka_properties())["sasl.kerberos.kinit.cmd"] = "touch /x";
  v1::Pipeline good = P("good", 1);
  (*good.mutable_config()->mutable_kafka_properties())["fetch.wait.max.ms"] = "50";
  auto a = AssignPipelines({bad, good}, Workers(3));
  EXPECT_EQ(Count(a, "bad"), 0);
  EXPECT_EQ(Count(a, "good"), 1);
  EXPECT_EQ(a.size(), 3u);

  absl::Status s = CheckAssignable(bad.config());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "not assigned to any worker: kafka_properties: 'sasl.kerberos.kinit.cmd' is not "
            "allowed in a pipeline (it runs a command on every worker); update the pipeline "
            "without it (pipelines update --remove-kafka-property NAME)");
  EXPECT_TRUE(CheckAssignable(good.config()).ok());
}

// The fleet adds each connecting worker incrementally (one hash per pipeline);
// the result must be what picking over every worker gives, in any join order,
// with desired_workers from 1 to more than the workers, draining workers, and
// pipelines only some workers can run.
TEST(AssignerTest, AddingAWorkerGivesWhatPickingOverAllWorkersGives) {
  std::map<std::string, v1::Pipeline> by_name;
  std::vector<v1::Pipeline> pipelines;
  for (int i = 0; i < 40; ++i) {
    v1::Pipeline p =
        i % 5 == 4 ? JsonRollout(absl::StrCat("p", i), v1::ROUTING_KEY_FORM_RAW_JSON, 1 + i % 7)
                   : P(absl::StrCat("p", i), 1 + i % 7, 1, /*paused=*/i % 9 == 8);
    by_name[p.config().name()] = p;
    pipelines.push_back(p);
  }
  std::vector<WorkerCandidate> all;
  for (int i = 0; i < 12; ++i) {
    WorkerCandidate w{absl::StrCat("w", (i * 7) % 12), /*draining=*/i == 5, {}};
    if (i % 3 == 0) w.routing_key_forms = {v1::ROUTING_KEY_FORM_RAW_JSON};
    all.push_back(w);
  }
  PipelinePicks picks = PickWorkers(pipelines, {});
  std::vector<WorkerCandidate> joined;
  int displacements = 0;
  for (const WorkerCandidate& w : all) {
    const PipelinePicks before = picks;
    const std::map<std::string, std::string> changed = AddWorker(by_name, w, &picks);
    joined.push_back(w);
    EXPECT_EQ(picks, PickWorkers(pipelines, joined)) << "after " << w.worker_id << " joined";
    for (const auto& [name, displaced] : changed) {
      EXPECT_NE(before.at(name), picks.at(name)) << name;
      if (!displaced.empty()) ++displacements;
    }
    for (const auto& [name, picked] : picks) {
      if (changed.count(name) == 0) EXPECT_EQ(before.at(name), picked) << name;
    }
  }
  EXPECT_GT(displacements, 0) << "the case of a full pipeline was not exercised";
}

}  // namespace
}  // namespace sluice::controller
