#include "controller/worker_registry_writer.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/fakes/manual_clock.h"

namespace sluice::controller {
namespace {

using ::sluice::testing::ManualClock;

// Records each SaveWorkers call; refuses any batch that holds `refused_id` (as
// PostgreSQL refuses a statement), or every call while it is `away`.
class RecordingRegistry : public WorkerRegistry {
 public:
  absl::Status SaveWorkers(const std::vector<KnownWorker>& workers) override {
    absl::MutexLock lock(&mu_);
    if (away_) call_sizes_while_away_.push_back(workers.size());
    if (away_) return absl::UnavailableError("controller database: connection refused");
    std::vector<std::string> ids;
    for (const KnownWorker& w : workers) {
      if (w.hello.worker_id() == refused_id_) return absl::InternalError("refused");
      ids.push_back(w.hello.worker_id());
    }
    batches_.push_back(ids);
    for (const std::string& id : ids) saved_.insert(id);
    return absl::OkStatus();
  }
  absl::Status ForgetWorkers(const std::vector<std::string>&) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<KnownWorker>> LoadWorkers() override {
    return std::vector<KnownWorker>{};
  }
  void Refuse(const std::string& id) {
    absl::MutexLock lock(&mu_);
    refused_id_ = id;
  }
  void SetAway(bool away) {
    absl::MutexLock lock(&mu_);
    away_ = away;
  }
  // The number of rows of each call made while the database was away.
  std::vector<size_t> call_sizes_while_away() {
    absl::MutexLock lock(&mu_);
    return call_sizes_while_away_;
  }
  std::set<std::string> saved() {
    absl::MutexLock lock(&mu_);
    return saved_;
  }
  std::vector<std::vector<std::string>> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  absl::Mutex mu_;
  std::string refused_id_;
  bool away_ = false;
  std::vector<size_t> call_sizes_while_away_;
  std::set<std::string> saved_;
  std::vector<std::vector<std::string>> batches_;
};

class WorkerRegistryWriterTest : public ::testing::Test {
 protected:
  void Connect(const std::string& id) {
    v1::Hello h;
    h.set_worker_id(id);
    fleet_.Connect(h, "workers").value();
  }
  ManualClock clock_;
  Fleet fleet_{clock_, {absl::Seconds(10), absl::Seconds(5)}, nullptr};
  RecordingRegistry registry_;
};

TEST_F(WorkerRegistryWriterTest, SavesWhatTheFleetKnowsOfTheQueuedWorkers) {
  WorkerRegistryWriter writer(&fleet_, &registry_, clock_);
  Connect("w1");
  Connect("w2");
  writer.Save("w1");
  writer.Save("w2");
  writer.Save("gone");  // unknown to the fleet (expired meanwhile): not saved
  writer.Flush();
  EXPECT_EQ(registry_.saved(), (std::set<std::string>{"w1", "w2"}));
  // Queued together, saved together (at most two rounds: one may have started).
  EXPECT_LE(registry_.batches().size(), 2u);
}

// A row the database refuses must not keep the others from being saved; it is
// tried again, and saved once the database takes it.
TEST_F(WorkerRegistryWriterTest, ARefusedRowDoesNotHoldBackTheOthers) {
  WorkerRegistryWriter writer(&fleet_, &registry_, clock_);
  for (const char* id : {"w1", "w2", "w3"}) Connect(id);
  registry_.Refuse("w2");
  for (const char* id : {"w1", "w2", "w3"}) writer.Save(id);
  writer.Flush();
  EXPECT_EQ(registry_.saved(), (std::set<std::string>{"w1", "w3"}));
  registry_.Refuse("");
  writer.Flush();  // the retry waits a second of the clock
  EXPECT_EQ(registry_.saved(), (std::set<std::string>{"w1", "w2", "w3"}));
  EXPECT_GE(clock_.slept(), absl::Seconds(1));
}

// Found by review: with the database away, every row was tried one by one after
// the batch failed (1,000 rows × a connect timeout per round). The round fails at
// once, and everything is saved when the database is back. (The manual clock
// makes the writer's one-second retry wait instant, so rounds repeat quickly.)
TEST_F(WorkerRegistryWriterTest, ADatabaseThatIsAwayCostsOneCallPerRound) {
  registry_.SetAway(true);
  WorkerRegistryWriter writer(&fleet_, &registry_, clock_);
  for (int i = 0; i < 50; ++i) {
    const std::string id = "w" + std::to_string(i);
    Connect(id);
    writer.Save(id);
  }
  writer.Flush();
  registry_.SetAway(false);
  // Each round retries everything the rounds before it failed to save, so a
  // round's call never has fewer rows than the one before; rows tried one by one
  // after a failed batch would show as a call of one row after a larger one. (A
  // first round may hold a single row: the writer's thread can take w0 before
  // the others are queued, as CI once saw.)
  const std::vector<size_t> sizes = registry_.call_sizes_while_away();
  ASSERT_FALSE(sizes.empty());
  EXPECT_TRUE(std::is_sorted(sizes.begin(), sizes.end()))
      << "rows tried one by one while the database is away";
  writer.Flush();
  EXPECT_EQ(registry_.saved().size(), 50u);
}

TEST_F(WorkerRegistryWriterTest, WhatIsQueuedAtTheEndIsSavedOnDestruction) {
  {
    WorkerRegistryWriter writer(&fleet_, &registry_, clock_);
    Connect("w1");
    writer.Save("w1");
  }
  EXPECT_EQ(registry_.saved(), std::set<std::string>{"w1"});
}

}  // namespace
}  // namespace sluice::controller
