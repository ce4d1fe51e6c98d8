#include "controller/fleet.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::ManualClock;

v1::Pipeline P(const std::string& name, uint64_t version, uint32_t desired = 1) {
  v1::Pipeline p;
  p.mutable_config()->set_name(name);
  p.mutable_config()->set_desired_workers(desired);
  p.set_version(version);
  return p;
}

v1::Hello Hello(const std::string& id, const std::string& applied = "") {
  v1::Hello h;
  h.set_worker_id(id);
  h.set_build_version("1.0");
  h.set_last_applied_config_version(applied);
  return h;
}

class FleetTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  Fleet fleet_{clock_, {absl::Seconds(10), absl::Seconds(5)}, nullptr};
};

TEST_F(FleetTest, AckRecordsAppliedVersions) {
  fleet_.SetPipelines({P("a", 3)});
  fleet_.Connect(Hello("w1"), "local").value();
  v1::Assignment a = fleet_.AssignmentFor("w1");
  ASSERT_EQ(a.pipelines_size(), 1);
  EXPECT_EQ(a.pipelines(0).version(), 3u);
  a.set_nonce("n1");
  fleet_.RecordPush("w1", a);
  EXPECT_EQ(fleet_.GetWorker("w1")->pending_config_version(), a.config_version());
  v1::Ack stale;
  stale.set_nonce("old");
  fleet_.RecordAck("w1", stale);  // an answer to an older push changes nothing
  EXPECT_EQ(fleet_.PipelineStatus("a")[0].applied_version(), 0u);
  v1::Ack ack;
  ack.set_nonce("n1");
  ack.set_config_version(a.config_version());
  fleet_.RecordAck("w1", ack);
  EXPECT_EQ(fleet_.PipelineStatus("a")[0].applied_version(), 3u);
  EXPECT_EQ(fleet_.GetWorker("w1")->applied_config_version(), a.config_version());
  EXPECT_EQ(fleet_.GetWorker("w1")->pending_config_version(), "");
}

TEST_F(FleetTest, NackRecordsThePipelineError) {
  fleet_.SetPipelines({P("a", 1), P("b", 1)});
  fleet_.Connect(Hello("w1"), "local").value();
  v1::Assignment a = fleet_.AssignmentFor("w1");
  a.set_nonce("n1");
  fleet_.RecordPush("w1", a);
  v1::Nack nack;
  nack.set_nonce("n1");
  nack.set_error_detail("table b does not exist");
  v1::PipelineError* e = nack.add_pipeline_errors();
  e->set_pipeline("b");
  e->set_error_detail("table b does not exist");
  fleet_.RecordNack("w1", nack);
  EXPECT_EQ(fleet_.PipelineStatus("a")[0].applied_version(), 1u);
  EXPECT_EQ(fleet_.PipelineStatus("a")[0].nack_error(), "");
  EXPECT_EQ(fleet_.PipelineStatus("b")[0].applied_version(), 0u);
  EXPECT_EQ(fleet_.PipelineStatus("b")[0].nack_error(), "table b does not exist");
  EXPECT_EQ(fleet_.GetWorker("w1")->last_nack(), "table b does not exist");
}

// Issue 10: a NACK cleared the applied version shown for the refused pipeline,
// although the worker keeps running its last good version.
TEST_F(FleetTest, ARefusedPipelineStillShowsTheLastGoodVersionItRuns) {
  fleet_.SetPipelines({P("a", 1)});
  fleet_.Connect(Hello("w1"), "local").value();
  v1::Assignment first = fleet_.AssignmentFor("w1");
  first.set_nonce("n1");
  fleet_.RecordPush("w1", first);
  v1::Ack ack;
  ack.set_nonce("n1");
  ack.set_config_version(first.config_version());
  fleet_.RecordAck("w1", ack);
  fleet_.SetPipelines({P("a", 2)});
  v1::Assignment second = fleet_.AssignmentFor("w1");
  second.set_nonce("n2");
  fleet_.RecordPush("w1", second);
  v1::Nack nack;
  nack.set_nonce("n2");
  v1::PipelineError* e = nack.add_pipeline_errors();
  e->set_pipeline("a");
  e->set_error_detail("table gone does not exist");
  fleet_.RecordNack("w1", nack);
  EXPECT_EQ(fleet_.PipelineStatus("a")[0].applied_version(), 1u);
  EXPECT_EQ(fleet_.PipelineStatus("a")[0].nack_error(), "table gone does not exist");
}

TEST_F(FleetTest, DisconnectedWorkerKeepsItsPipelinesForTheLease) {
  fleet_.SetPipelines({P("a", 1)});
  const uint64_t s1 = fleet_.Connect(Hello("w1"), "local").value();
  ASSERT_EQ(fleet_.AssignmentFor("w1").pipelines_size(), 1);
  fleet_.Disconnect("w1", s1);
  fleet_.Connect(Hello("w2"), "local").value();
  clock_.Advance(absl::Seconds(9));
  EXPECT_TRUE(fleet_.ExpireLeases().empty());
  const std::string holder = fleet_.PipelineStatus("a")[0].worker_id();
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(fleet_.ExpireLeases(), std::vector<std::string>{"w1"});
  EXPECT_EQ(fleet_.ListWorkers().size(), 1u);
  EXPECT_EQ(fleet_.AssignmentFor("w2").pipelines_size(), 1);
  (void)holder;
}

// Issue 10: a worker was dropped only when its stream ended, so a host that died
// without closing its connection kept its pipelines until the OS gave up. A
// worker that sends nothing for the silence limit (3 stats intervals) is silent.
TEST_F(FleetTest, AWorkerThatSendsNothingForTheSilenceLimitIsSilent) {
  const uint64_t s1 = fleet_.Connect(Hello("w1"), "local").value();
  clock_.Advance(absl::Seconds(15));
  EXPECT_EQ(fleet_.SilentFor("w1", s1), std::nullopt);
  v1::StatsReport report;
  fleet_.AcceptStats("w1", &report);
  clock_.Advance(absl::Seconds(15));
  EXPECT_EQ(fleet_.SilentFor("w1", s1), std::nullopt);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(fleet_.SilentFor("w1", s1), absl::Seconds(16));
  // An ACK counts as hearing from it too.
  v1::Ack ack;
  fleet_.RecordAck("w1", ack);
  EXPECT_EQ(fleet_.SilentFor("w1", s1), std::nullopt);
  // Only the current stream is judged.
  const uint64_t s2 = fleet_.Connect(Hello("w1"), "local").value();
  clock_.Advance(absl::Seconds(20));
  EXPECT_EQ(fleet_.SilentFor("w1", s1), std::nullopt);
  EXPECT_EQ(fleet_.SilentFor("w1", s2), absl::Seconds(20));
  EXPECT_EQ(fleet_.SilentFor("nobody", s2), std::nullopt);
}

// Issue 10: after a controller restart each reconnecting worker was assigned over
// the workers connected so far, so the first took every pipeline and the rest
// moved again as the others came back (each move a consumer-group rebalance).
// Restored from the registry, the workers keep their pipelines while they
// reconnect, in any order: not one pipeline starts or stops.
TEST_F(FleetTest, AControllerRestartMovesNoPipelineWhileTheWorkersReconnect) {
  constexpr int kWorkers = 60, kPipelines = 150;
  std::vector<v1::Pipeline> pipelines;
  for (int i = 0; i < kPipelines; ++i) pipelines.push_back(P(absl::StrCat("p", i), 1));
  fleet_.SetPipelines(pipelines);
  for (int i = 0; i < kWorkers; ++i) fleet_.Connect(Hello(absl::StrCat("w", i)), "workers").value();
  ASSERT_TRUE(fleet_.Drain("w7").ok());
  std::map<std::string, std::string> before;  // worker → config version
  std::vector<KnownWorker> known;
  for (int i = 0; i < kWorkers; ++i) {
    const std::string id = absl::StrCat("w", i);
    before[id] = fleet_.AssignmentFor(id).config_version();
    known.push_back(*fleet_.Known(id));
  }
  EXPECT_TRUE(known[7].draining);

  // The restarted controller: same pipelines, the registry's workers.
  ManualClock clock;
  Fleet restarted{clock, {absl::Seconds(10), absl::Seconds(5)}, nullptr};
  restarted.SetPipelines(pipelines);
  restarted.RestoreWorkers(known);
  int moved = 0;
  for (int i = kWorkers - 1; i >= 0; --i) {  // reconnecting in another order
    const std::string id = absl::StrCat("w", i);
    ASSERT_TRUE(restarted.Connect(Hello(id, before[id]), "workers").ok());
    for (int j = 0; j < kWorkers; ++j) {
      const std::string other = absl::StrCat("w", j);
      if (restarted.AssignmentFor(other).config_version() != before[other]) ++moved;
    }
  }
  EXPECT_EQ(moved, 0);
  EXPECT_TRUE(restarted.GetWorker("w7")->draining());  // the drain survived
  // The id stays its owner's: another token cannot take it during the lease.
  restarted.Disconnect("w3", restarted.Connect(Hello("w3"), "workers").value());
  EXPECT_EQ(restarted.Connect(Hello("w3"), "intruder").status().code(),
            absl::StatusCode::kPermissionDenied);
  // A worker that does not come back within the lease is dropped, and only then
  // do its pipelines move.
  Fleet late{clock, {absl::Seconds(10), absl::Seconds(5)}, nullptr};
  late.SetPipelines(pipelines);
  late.RestoreWorkers(known);
  for (int i = 1; i < kWorkers; ++i) {
    late.Connect(Hello(absl::StrCat("w", i), before[absl::StrCat("w", i)]), "workers").value();
  }
  EXPECT_EQ(late.AssignmentFor("w1").config_version(), before["w1"]);
  clock.Advance(absl::Seconds(10));
  EXPECT_EQ(late.ExpireLeases(), std::vector<std::string>{"w0"});
}

// The issue's own figures: a simulation with 1,000 workers and 2,000 pipelines
// made 9,108 pipeline starts and 7,108 stops across a controller restart, where 0
// were needed. The same scale now: restored from the registry, reconnecting in a
// shuffled order, no worker's assignment changes at any point (each change would
// be a push, and a moved pipeline a consumer-group rebalance).
TEST_F(FleetTest, ARestartUnderAThousandWorkersAndTwoThousandPipelinesMovesNothing) {
  constexpr int kWorkers = 1000, kPipelines = 2000;
  std::vector<v1::Pipeline> pipelines;
  for (int i = 0; i < kPipelines; ++i) {
    pipelines.push_back(P(absl::StrCat("p", i), 1, /*desired=*/1 + i % 3));
  }
  fleet_.SetPipelines(pipelines);
  std::vector<std::string> ids;
  for (int i = 0; i < kWorkers; ++i) {
    ids.push_back(absl::StrCat("w", i));
    fleet_.Connect(Hello(ids.back()), "workers").value();
  }
  std::map<std::string, std::string> before;
  std::vector<KnownWorker> known;
  for (const std::string& id : ids) {
    before[id] = fleet_.AssignmentFor(id).config_version();
    known.push_back(*fleet_.Known(id));
  }
  ManualClock clock;
  Fleet restarted{clock, {absl::Seconds(15), absl::Seconds(5)}, nullptr};
  restarted.SetPipelines(pipelines);
  restarted.RestoreWorkers(known);
  restarted.TakeChanges();
  std::mt19937 random(7);
  std::shuffle(ids.begin(), ids.end(), random);
  int changed = 0;
  for (const std::string& id : ids) {
    ASSERT_TRUE(restarted.Connect(Hello(id, before[id]), "workers").ok());
    changed += static_cast<int>(restarted.TakeChanges().workers.size());
  }
  EXPECT_EQ(changed, 0);
  int moved = 0;
  for (const std::string& id : ids) {
    moved += restarted.AssignmentFor(id).config_version() != before[id] ? 1 : 0;
  }
  EXPECT_EQ(moved, 0);
}

// Issue 10 (replicas): a replica that led, followed for longer than a lease and
// leads again still holds the workers it lost when it stepped down. The registry,
// which the leaders since kept, replaces them: each gets a full lease from now to
// reconnect (not the remains of the old one, which would expire them on the first
// tick), a drain made meanwhile holds, and a worker forgotten meanwhile is gone.
TEST_F(FleetTest, RestoringReplacesWhatALeaderAgainRemembersOfLostWorkers) {
  fleet_.SetPipelines({P("items", 1)});
  fleet_.Disconnect("w1", fleet_.Connect(Hello("w1"), "workers").value());
  fleet_.Disconnect("w2", fleet_.Connect(Hello("w2"), "workers").value());
  fleet_.Connect(Hello("w3"), "workers").value();  // still connected: kept as it is
  KnownWorker drained = *fleet_.Known("w1");
  drained.draining = true;           // by the other leader; w2 was forgotten by it
  clock_.Advance(absl::Minutes(5));  // following meanwhile: no lease expiry ran
  fleet_.RestoreWorkers({drained});
  EXPECT_TRUE(fleet_.GetWorker("w1")->draining());
  EXPECT_FALSE(fleet_.GetWorker("w2").ok());
  EXPECT_TRUE(fleet_.GetWorker("w3")->connected());
  clock_.Advance(absl::Seconds(9));
  EXPECT_TRUE(fleet_.ExpireLeases().empty());
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(fleet_.ExpireLeases(), std::vector<std::string>{"w1"});
}

// Issue 10: nothing showed which evaluators hold a flag's latest version. Workers
// hold what they acknowledged (not what was only pushed), watchers what they were
// sent; a NACK keeps the version acknowledged before.
TEST_F(FleetTest, FlagHoldersAreTheWorkersThatAckedAndTheWatchers) {
  v1::Pipeline p = P("items", 1);
  p.mutable_config()->mutable_rollout()->set_flag("kafka-ingest");
  fleet_.SetPipelines({p, P("plain", 1)});
  v1::Flag flag;
  flag.set_name("kafka-ingest");
  flag.set_version(3);
  fleet_.SetFlags({flag});
  fleet_.Connect(Hello("w1"), "local").value();
  v1::Assignment a = fleet_.AssignmentFor("w1");
  ASSERT_EQ(a.flags_size(), 1);
  a.set_nonce("n1");
  fleet_.RecordPush("w1", a);
  std::vector<v1::FlagHolder> h = fleet_.FlagHolders("kafka-ingest");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].id(), "w1");
  EXPECT_EQ(h[0].version(), 0u);  // pushed, not acknowledged
  v1::Ack ack;
  ack.set_nonce("n1");
  fleet_.RecordAck("w1", ack);
  EXPECT_EQ(fleet_.FlagHolders("kafka-ingest")[0].version(), 3u);
  flag.set_version(4);
  fleet_.SetFlags({flag});
  v1::Assignment b = fleet_.AssignmentFor("w1");
  b.set_nonce("n2");
  fleet_.RecordPush("w1", b);
  v1::Nack nack;
  nack.set_nonce("n2");
  fleet_.RecordNack("w1", nack);
  EXPECT_EQ(fleet_.FlagHolders("kafka-ingest")[0].version(), 3u);
  // A watcher, once sent the snapshot, holds its versions; gone when it ends.
  const uint64_t watch = fleet_.WatchStarted("ipv4:127.0.0.1:5000 (reader)");
  v1::FlagSnapshot snapshot = fleet_.FlagSnapshot();
  fleet_.WatchHolds(watch, snapshot);
  h = fleet_.FlagHolders("kafka-ingest");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[1].kind(), v1::FlagHolder::KIND_WATCHER);
  EXPECT_EQ(h[1].version(), 4u);
  EXPECT_FALSE(h[1].acknowledged());
  fleet_.WatchEnded(watch);
  EXPECT_EQ(fleet_.FlagHolders("kafka-ingest").size(), 1u);
  EXPECT_TRUE(fleet_.FlagHolders("other").empty());
}

TEST_F(FleetTest, NewerStreamSupersedesOlder) {
  const uint64_t s1 = fleet_.Connect(Hello("w1"), "local").value();
  const uint64_t s2 = fleet_.Connect(Hello("w1"), "local").value();
  EXPECT_FALSE(fleet_.IsCurrent("w1", s1));
  EXPECT_TRUE(fleet_.IsCurrent("w1", s2));
  fleet_.Disconnect("w1", s1);  // the old stream ending does not disconnect the new one
  EXPECT_TRUE(fleet_.GetWorker("w1")->connected());
}

// Any client could send a Hello with a real worker's id and take its stream (and
// its configuration, its ACKs and its stats).
TEST_F(FleetTest, ALiveWorkerIdCannotBeTakenOverWithAnotherToken) {
  const uint64_t s1 = fleet_.Connect(Hello("w1"), "worker-a").value();
  const absl::StatusOr<uint64_t> other = fleet_.Connect(Hello("w1"), "worker-b");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other.status().message().find("w1"), std::string::npos);
  EXPECT_TRUE(fleet_.IsCurrent("w1", s1));
}

// Bound through the lease: a blip must not let another token claim the id and
// lock its worker out.
TEST_F(FleetTest, AWorkerIdStaysItsOwnersUntilItsLeaseExpires) {
  const uint64_t s1 = fleet_.Connect(Hello("w1"), "worker-a").value();
  fleet_.Disconnect("w1", s1);
  EXPECT_EQ(fleet_.Connect(Hello("w1"), "worker-b").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(fleet_.Connect(Hello("w1"), "worker-a").ok());
  const uint64_t s3 = fleet_.Connect(Hello("w1"), "worker-a").value();
  fleet_.Disconnect("w1", s3);
  clock_.Advance(absl::Seconds(11));  // the fixture's lease is 10 s
  ASSERT_FALSE(fleet_.ExpireLeases().empty());
  EXPECT_TRUE(fleet_.Connect(Hello("w1"), "worker-b").ok());
}

// A worker token could report stats for any pipeline (they feed the ramp guards).
TEST_F(FleetTest, StatsForPipelinesAWorkerWasNeverAssignedAreDropped) {
  fleet_.Connect(Hello("w1"), "worker-a").value();
  fleet_.Connect(Hello("w2"), "worker-b").value();
  fleet_.SetPipelines({P("a", 1)});
  const bool w1_runs_it = fleet_.AssignmentFor("w1").pipelines_size() == 1;
  const std::string runner = w1_runs_it ? "w1" : "w2";
  const std::string other = w1_runs_it ? "w2" : "w1";
  ASSERT_EQ(fleet_.AssignmentFor(other).pipelines_size(), 0);
  v1::StatsReport forged;
  for (const char* name : {"a", "nosuch"}) forged.add_pipelines()->set_pipeline(name);
  EXPECT_EQ(fleet_.AcceptStats(other, &forged), 2);
  EXPECT_EQ(forged.pipelines_size(), 0);
  v1::StatsReport real;
  for (const char* name : {"a", "nosuch"}) real.add_pipelines()->set_pipeline(name);
  EXPECT_EQ(fleet_.AcceptStats(runner, &real), 1);
  ASSERT_EQ(real.pipelines_size(), 1);
  EXPECT_EQ(real.pipelines(0).pipeline(), "a");
  // Once assigned, a pipeline may still be reported after it moves away (the
  // worker's last interval of it).
  fleet_.SetPipelines({});
  v1::StatsReport last;
  last.add_pipelines()->set_pipeline("a");
  EXPECT_EQ(fleet_.AcceptStats(runner, &last), 0);
  // The problems of the pipelines kept are recorded; a forged one is not.
  v1::StatsReport failing;
  v1::PipelineStats* p = failing.add_pipelines();
  p->set_pipeline("a");
  p->set_problem("writes failing");
  fleet_.AcceptStats(other, &failing);  // never assigned "a": dropped
  fleet_.SetPipelines({P("a", 2)});
  for (const v1::PipelineWorkerStatus& s : fleet_.PipelineStatus("a")) {
    EXPECT_EQ(s.problem(), "") << s.worker_id();
  }
  p = failing.add_pipelines();
  p->set_pipeline("a");
  p->set_problem("writes failing");
  fleet_.AcceptStats(runner, &failing);
  for (const v1::PipelineWorkerStatus& s : fleet_.PipelineStatus("a")) {
    EXPECT_EQ(s.problem(), s.worker_id() == runner ? "writes failing" : "") << s.worker_id();
  }
}

TEST_F(FleetTest, DrainEmptiesTheAssignmentAndMarksIt) {
  fleet_.SetPipelines({P("a", 1, 2)});
  fleet_.Connect(Hello("w1"), "local").value();
  fleet_.Connect(Hello("w2"), "local").value();
  const std::string before = fleet_.AssignmentFor("w1").config_version();
  ASSERT_TRUE(fleet_.Drain("w1").ok());
  v1::Assignment a = fleet_.AssignmentFor("w1");
  EXPECT_TRUE(a.draining());
  EXPECT_EQ(a.pipelines_size(), 0);
  EXPECT_NE(a.config_version(), before);
  EXPECT_EQ(fleet_.AssignmentFor("w2").pipelines_size(), 1);
  EXPECT_EQ(fleet_.Drain("nobody").code(), absl::StatusCode::kNotFound);
}

// Issue 10, 5,000 streams: every connect recomputed every pipeline's workers and
// woke every stream to recompute its assignment. A worker joining now changes the
// assignments of itself and of the workers it displaces only; a reconnect of a
// known worker changes none, and names the worker whose older stream must end.
TEST_F(FleetTest, AJoiningWorkerChangesOnlyTheAssignmentsItTouches) {
  std::vector<v1::Pipeline> pipelines;
  for (int i = 0; i < 30; ++i) pipelines.push_back(P(absl::StrCat("p", i), 1, 2));
  fleet_.SetPipelines(pipelines);
  for (int i = 0; i < 20; ++i) fleet_.Connect(Hello(absl::StrCat("w", i)), "local").value();
  fleet_.TakeChanges();
  std::map<std::string, std::string> before;
  std::map<std::string, uint64_t> seq_before;
  for (int i = 0; i < 20; ++i) {
    const std::string id = absl::StrCat("w", i);
    before[id] = fleet_.AssignmentFor(id).config_version();
    seq_before[id] = fleet_.AssignmentSeq(id);
  }

  fleet_.Connect(Hello("w20"), "local").value();
  const FleetChanges changes = fleet_.TakeChanges();
  EXPECT_TRUE(changes.reconnected.empty());
  EXPECT_FALSE(changes.horizon_moved);
  ASSERT_EQ(changes.workers.count("w20"), 1u);
  EXPECT_GT(changes.workers.size(), 1u) << "w20 took pipelines from nobody?";
  EXPECT_LT(changes.workers.size(), 21u);
  for (int i = 0; i < 20; ++i) {
    const std::string id = absl::StrCat("w", i);
    const bool moved = fleet_.AssignmentFor(id).config_version() != before[id];
    EXPECT_EQ(moved, changes.workers.count(id) == 1) << id;
    EXPECT_EQ(moved, fleet_.AssignmentSeq(id) != seq_before[id]) << id;
  }
  EXPECT_TRUE(fleet_.TakeChanges().workers.empty()) << "taken once";

  const uint64_t seq = fleet_.AssignmentSeq("w3");
  fleet_.Connect(Hello("w3"), "local").value();
  const FleetChanges reconnect = fleet_.TakeChanges();
  EXPECT_TRUE(reconnect.workers.empty());
  EXPECT_EQ(reconnect.reconnected, std::set<std::string>{"w3"});
  EXPECT_EQ(fleet_.AssignmentSeq("w3"), seq);

  // A flag change reaches the workers whose pipelines use the flag, only.
  std::vector<v1::Pipeline> with_rollout = pipelines;
  with_rollout[0].mutable_config()->mutable_rollout()->set_flag("f");
  fleet_.SetPipelines(with_rollout);
  fleet_.TakeChanges();
  v1::Flag f;
  f.set_name("f");
  f.set_version(2);
  fleet_.SetFlags({f});
  std::set<std::string> holders;
  for (const v1::PipelineWorkerStatus& s : fleet_.PipelineStatus("p0"))
    holders.insert(s.worker_id());
  EXPECT_EQ(fleet_.TakeChanges().workers, holders);
  EXPECT_EQ(holders.size(), 2u);
}

// The incremental path (a joining worker ranked against the current picks, a
// reconnect changing nothing) must leave every assignment as a full recompute
// over the same workers would: compared with a fleet restored from the same
// workers, after joins in a scrambled order, workers announcing RAW_JSON, a
// drain, reconnects (one announcing a new form) and an expired lease.
TEST_F(FleetTest, IncrementalAssignmentsEqualAFullRecompute) {
  std::vector<v1::Pipeline> pipelines;
  for (int i = 0; i < 25; ++i) {
    v1::Pipeline p = P(absl::StrCat("p", i), 1, 1 + i % 4);
    if (i % 6 == 5) {
      v1::Rollout* r = p.mutable_config()->mutable_rollout();
      r->set_flag("f");
      r->set_json_field("project_id");
      r->set_key_form(v1::ROUTING_KEY_FORM_RAW_JSON);
    }
    pipelines.push_back(p);
  }
  fleet_.SetPipelines(pipelines);
  auto hello = [](int i, bool raw_json) {
    v1::Hello h = Hello(absl::StrCat("w", i));
    if (raw_json) h.add_routing_key_forms(v1::ROUTING_KEY_FORM_RAW_JSON);
    return h;
  };
  std::vector<uint64_t> streams(15);
  for (int k = 0; k < 15; ++k) {
    const int i = (k * 4) % 15;
    streams[i] = fleet_.Connect(hello(i, i % 3 == 0), "workers").value();
  }
  auto expect_as_full_recompute = [&](const std::string& when) {
    std::vector<KnownWorker> known;
    for (const v1::WorkerInfo& w : fleet_.ListWorkers())
      known.push_back(*fleet_.Known(w.worker_id()));
    Fleet full{clock_, {absl::Seconds(10), absl::Seconds(5)}, nullptr};
    full.SetPipelines(pipelines);
    full.RestoreWorkers(known);
    for (const KnownWorker& k : known) {
      const std::string& id = k.hello.worker_id();
      EXPECT_EQ(fleet_.AssignmentFor(id).SerializeAsString(),
                full.AssignmentFor(id).SerializeAsString())
          << id << " " << when;
    }
  };
  expect_as_full_recompute("after the joins");
  ASSERT_TRUE(fleet_.Drain("w4").ok());
  fleet_.Connect(hello(16, true), "workers").value();
  expect_as_full_recompute("after a drain and a join");
  fleet_.Connect(hello(2, false), "workers").value();  // reconnect, same forms
  fleet_.Connect(hello(1, true), "workers").value();   // reconnect, a new form
  expect_as_full_recompute("after reconnects");
  fleet_.Disconnect("w7", streams[7]);
  clock_.Advance(absl::Seconds(10));
  ASSERT_EQ(fleet_.ExpireLeases(), std::vector<std::string>{"w7"});
  fleet_.Connect(hello(17, false), "workers").value();
  expect_as_full_recompute("after an expiry and a join");
}

TEST_F(FleetTest, GenerationMovesOnChanges) {
  const uint64_t g = fleet_.generation();
  fleet_.SetPipelines({P("a", 1)});
  EXPECT_GT(fleet_.generation(), g);
  EXPECT_EQ(fleet_.WaitForChange(fleet_.generation(), absl::Milliseconds(1)), fleet_.generation());
}

TEST_F(FleetTest, PipelinesRoutedByRawJsonAreAssignedOnlyToWorkersThatAnnounceIt) {
  v1::Pipeline raw = P("raw", 1);
  v1::Rollout* r = raw.mutable_config()->mutable_rollout();
  r->set_flag("kafka-ingest");
  r->set_json_field("project_id");
  r->set_key_form(v1::ROUTING_KEY_FORM_RAW_JSON);
  r->set_skip(true);
  fleet_.SetPipelines({raw});
  fleet_.Connect(Hello("old"), "local").value();
  EXPECT_EQ(fleet_.AssignmentFor("old").pipelines_size(), 0);
  v1::Hello upgraded = Hello("new");
  upgraded.add_routing_key_forms(v1::ROUTING_KEY_FORM_RAW_JSON);
  fleet_.Connect(upgraded, "local").value();
  EXPECT_EQ(fleet_.AssignmentFor("old").pipelines_size(), 0);
  ASSERT_EQ(fleet_.AssignmentFor("new").pipelines_size(), 1);
  EXPECT_EQ(fleet_.AssignmentFor("new").pipelines(0).config().rollout().key_form(),
            v1::ROUTING_KEY_FORM_RAW_JSON);
  // The same worker id rolled back to an old build loses the pipeline.
  fleet_.Connect(Hello("new"), "local").value();
  EXPECT_EQ(fleet_.AssignmentFor("new").pipelines_size(), 0);
}

TEST_F(FleetTest, AStoredPipelineWithAForbiddenPropertyIsNeverPushed) {
  v1::Pipeline bad = P("bad", 2, /*desired=*/2);
  (*bad.mutable_config()->mutable_kafka_properties())["plugin.library.paths"] = "/tmp/x.so";
  fleet_.SetPipelines({bad, P("good", 1)});
  fleet_.Connect(Hello("w1"), "local").value();
  fleet_.Connect(Hello("w2"), "local").value();
  int good = 0;
  for (const char* w : {"w1", "w2"}) {
    v1::Assignment a = fleet_.AssignmentFor(w);
    for (const v1::AssignedPipeline& p : a.pipelines()) {
      EXPECT_EQ(p.config().name(), "good");
      EXPECT_TRUE(p.config().kafka_properties().empty());
      ++good;
    }
    EXPECT_EQ(fleet_.GetWorker(w)->pipelines_size(), a.pipelines_size());
  }
  EXPECT_EQ(good, 1);
  EXPECT_TRUE(fleet_.PipelineStatus("bad").empty());
}

}  // namespace
}  // namespace sluice::controller

namespace sluice::controller {
namespace {

v1::Flag F(const std::string& name, uint64_t version) {
  v1::Flag f;
  f.set_name(name);
  f.set_version(version);
  return f;
}

StateSnapshot State(uint64_t revision, std::vector<v1::Flag> flags) {
  StateSnapshot s;
  s.revision = revision;
  v1::Pipeline p = P("a", 1);
  p.mutable_config()->mutable_rollout()->set_flag("f");
  s.pipelines.push_back(p);
  s.flags = std::move(flags);
  return s;
}

// Issue 10: the horizon holds for the flag versions of the state it was computed
// against (or later) and only moves forward.
TEST_F(FleetTest, TheScheduleHorizonNamesTheFlagVersionsItHoldsForAndOnlyMovesForward) {
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  fleet_.Connect(Hello("w1"), "local").value();
  EXPECT_FALSE(fleet_.ScheduleHorizonFor(fleet_.AssignmentFor("w1")).has_value());
  EXPECT_FALSE(fleet_.FlagSnapshot().has_schedule_known_until());

  ASSERT_TRUE(fleet_.ApplyState(State(5, {F("f", 3), F("other", 1)})));
  // Computed after reading revision 6, which is not applied yet: ignored.
  EXPECT_FALSE(fleet_.AdvanceScheduleHorizon(t, 6));
  EXPECT_EQ(fleet_.schedule_known_until(), absl::InfinitePast());
  const uint64_t before = fleet_.generation();
  EXPECT_TRUE(fleet_.AdvanceScheduleHorizon(t, 5));
  EXPECT_GT(fleet_.generation(), before) << "streams are woken to pass it on";
  v1::Assignment a = fleet_.AssignmentFor("w1");
  ASSERT_EQ(a.flags_size(), 1);  // the worker's pipelines use "f" only
  std::optional<v1::ScheduleHorizon> h = fleet_.ScheduleHorizonFor(a);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(ToAbslTime(h->known_until()), t);
  ASSERT_EQ(h->flags_size(), 1);
  EXPECT_EQ(h->flags(0).name(), "f");
  EXPECT_EQ(h->flags(0).version(), 3u);
  EXPECT_EQ(ToAbslDuration(h->hold_limit()), absl::Seconds(90));
  EXPECT_EQ(ToAbslTime(fleet_.FlagSnapshot().schedule_known_until()), t);

  // Never back.
  EXPECT_FALSE(fleet_.AdvanceScheduleHorizon(t - absl::Seconds(1), 5));
  EXPECT_EQ(fleet_.schedule_known_until(), t);
  // A newer state: the next horizon names its versions.
  ASSERT_TRUE(fleet_.ApplyState(State(7, {F("f", 4), F("other", 1)})));
  EXPECT_EQ(fleet_.ScheduleHorizonFor(fleet_.AssignmentFor("w1"))->flags(0).version(), 3u);
  EXPECT_TRUE(fleet_.AdvanceScheduleHorizon(t + absl::Seconds(1), 7));
  EXPECT_EQ(fleet_.ScheduleHorizonFor(fleet_.AssignmentFor("w1"))->flags(0).version(), 4u);
}

}  // namespace
}  // namespace sluice::controller
