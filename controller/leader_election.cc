#include "controller/leader_election.h"

#include <algorithm>
#include <chrono>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace sluice::controller {
namespace {

// Keepalive probes start after a third of the bound, every sixth, three of them.
std::string WithKeepalives(const std::string& conninfo) {
  const int64_t bound_s = absl::ToInt64Seconds(kLeaderConnectionDeadAfter);
  const int64_t idle_s = std::max<int64_t>(1, bound_s / 3);
  const int64_t interval_s = std::max<int64_t>(1, bound_s / 6);
  const int64_t bound_ms = absl::ToInt64Milliseconds(kLeaderConnectionDeadAfter);
  return absl::StrCat(
      conninfo, " application_name='sluice-controller leader election' keepalives=1",
      " keepalives_idle=", idle_s, " keepalives_interval=", interval_s, " keepalives_count=3",
      " tcp_user_timeout=", bound_ms,
      // The server's end: a session whose client vanished ends, and its lock goes.
      " options='-c tcp_keepalives_idle=", idle_s, " -c tcp_keepalives_interval=", interval_s,
      " -c tcp_keepalives_count=3 -c tcp_user_timeout=", bound_ms,
      " -c statement_timeout=", bound_ms,
      // A leader process that hangs with its host alive (a deadlock, SIGSTOP)
      // still answers keepalives from its kernel; its session goes idle instead
      // (a live leader checks every round), and the server ends it.
      " -c idle_session_timeout=", bound_ms, "'");
}

// The leader row's address, if the session that wrote it still holds the lock
// (a row left by a dead leader names nobody).
constexpr char kReadLeader[] =
    "SELECT l.address FROM sluice_controller.leader l WHERE EXISTS (SELECT 1 FROM pg_locks k "
    "WHERE k.locktype = 'advisory' AND k.database = (SELECT oid FROM pg_database WHERE "
    "datname = current_database()) AND k.classid = 0 AND k.objid = $1::bigint::oid AND "
    "k.objsubid = 1 AND k.granted AND k.pid = l.pid)";

// Monotonic (nanoseconds): a wall clock set back would stretch the confirmation.
int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct LeaderElection::Db {
  explicit Db(const std::string& conninfo) : conn(conninfo) {}
  pqxx::connection conn;
};

LeaderElection::LeaderElection(LeaderElectionOptions options, const Clock& clock,
                               ControllerMetrics* metrics, Takeover takeover, StepDown step_down)
    : options_(std::move(options)),
      clock_(clock),
      metrics_(metrics),
      takeover_(std::move(takeover)),
      step_down_(std::move(step_down)) {}

LeaderElection::~LeaderElection() { Resign(); }

bool LeaderElection::IsLeader() const {
  return leading_.load() && SteadyNowNs() < confirmed_until_ns_.load();
}

std::string LeaderElection::LeaderAddress() const {
  // Leading, but not confirmed lately: nobody can be named until the next check.
  if (leading_.load() && !IsLeader()) return "";
  absl::MutexLock lock(&mu_);
  return leader_address_;
}

void LeaderElection::Lost(const std::string& why, bool holds_lock) {
  if (!leading_.exchange(false)) return;
  {
    absl::MutexLock lock(&mu_);
    leader_address_.clear();
  }
  LOG(WARNING) << "no longer the leader: " << why;
  if (metrics_ != nullptr) {
    metrics_->SetLeader(false);
    metrics_->LeadershipLost();
  }
  step_down_(holds_lock);
}

void LeaderElection::Step() {
  absl::MutexLock step(&step_mu_);
  try {
    if (!db_) db_ = std::make_unique<Db>(WithKeepalives(options_.connection_string));
    pqxx::nontransaction tx(db_->conn);
    if (leading_) {
      // The lock lives as long as the session: a live connection still holds it.
      const int64_t asked_ns = SteadyNowNs();
      tx.exec("SELECT 1");
      confirmed_until_ns_ = asked_ns + absl::ToInt64Nanoseconds(kLeaderConfirmationValid);
      last_error_.clear();
      return;
    }
    if (!tx.exec_params("SELECT pg_try_advisory_lock($1)", kLeaderLockKey)[0][0].as<bool>()) {
      pqxx::result leader = tx.exec_params(kReadLeader, kLeaderLockKey);
      std::string address = leader.empty() ? "" : leader[0][0].as<std::string>();
      // This replica's own session from before its connection failed, which the
      // server has not ended yet: nobody leads.
      if (address == options_.advertise_address) address.clear();
      absl::MutexLock lock(&mu_);
      leader_address_ = std::move(address);
      last_error_.clear();
      return;
    }
    const pqxx::result previous = tx.exec("SELECT address FROM sluice_controller.leader");
    const bool led_last =
        !previous.empty() && previous[0][0].as<std::string>() == options_.advertise_address;
    tx.exec_params(
        "INSERT INTO sluice_controller.leader (id, address, pid, since) "
        "VALUES (1, $1, pg_backend_pid(), now()) ON CONFLICT (id) DO UPDATE "
        "SET address = EXCLUDED.address, pid = EXCLUDED.pid, since = EXCLUDED.since",
        options_.advertise_address);
    // The takeover's statements may take longer than the idle bound, during which
    // this session waits: it must not be ended for that (each statement has its
    // own timeouts, so the takeover is bounded).
    tx.exec("SET idle_session_timeout = 0");
    absl::Status taken = takeover_(led_last);
    const int64_t asked_ns = SteadyNowNs();
    // Through the lock's session: it still holds the lock.
    tx.exec(absl::StrCat("SET idle_session_timeout = ",
                         absl::ToInt64Milliseconds(kLeaderConnectionDeadAfter)));
    if (!taken.ok()) {
      tx.exec_params("SELECT pg_advisory_unlock($1)", kLeaderLockKey);
      LOG(WARNING) << "won the leader lock but could not take over (lock given back, retrying): "
                   << taken.message();
      return;
    }
    confirmed_until_ns_ = asked_ns + absl::ToInt64Nanoseconds(kLeaderConfirmationValid);
    {
      absl::MutexLock lock(&mu_);
      leader_address_ = options_.advertise_address;
    }
    leading_ = true;
    last_error_.clear();
    if (metrics_ != nullptr) {
      metrics_->SetLeader(true);
      metrics_->LeadershipAcquired();
    }
    LOG(INFO) << "leading (advertised as " << options_.advertise_address << ")";
  } catch (const std::exception& e) {
    // The connection is of no use now: whatever failed, a new one starts clean
    // (and the server drops the old session's lock with it).
    db_.reset();
    const std::string why =
        absl::StrCat("the leader lock's database connection failed: ", e.what());
    if (leading_) {
      Lost(why, /*holds_lock=*/false);
    } else {
      absl::MutexLock lock(&mu_);
      leader_address_.clear();
    }
    if (why != last_error_)
      LOG(WARNING) << why << " (retrying every " << absl::FormatDuration(options_.interval) << ")";
    last_error_ = why;
  }
}

void LeaderElection::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) {
    Step();
    clock_.SleepFor(options_.interval);
  }
  Resign();
}

void LeaderElection::Resign() {
  absl::MutexLock step(&step_mu_);
  Lost("resigned", /*holds_lock=*/true);
  db_.reset();
}

}  // namespace sluice::controller
