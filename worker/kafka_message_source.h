// MessageSource on librdkafka's KafkaConsumer (cooperative-sticky, manual offset store).
#ifndef SLUICE_WORKER_KAFKA_MESSAGE_SOURCE_H_
#define SLUICE_WORKER_KAFKA_MESSAGE_SOURCE_H_

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "worker/message_source.h"

namespace RdKafka {
class KafkaConsumer;
}

// librdkafka's C queue handle (rdkafka.h), kept out of this header.
struct rd_kafka_queue_s;

namespace sluice::worker {

struct KafkaSourceConfig {
  std::string brokers;
  std::string group_id;
  // Passed to librdkafka as is, after Sluice's defaults (so they can override them).
  std::map<std::string, std::string> properties;
  // Identifies the client to the broker ("sluice-worker-<host>-<pid>").
  std::string client_id = "sluice-worker";
  // Copy each message's headers into Message::headers (a column mapping reads one).
  bool read_headers = false;
};

// Asks the cluster for its topics. FAILED_PRECONDITION names the topics that do not
// exist; UNAVAILABLE if the brokers do not answer within `timeout`.
absl::Status CheckTopicsExist(const KafkaSourceConfig& config,
                              const std::vector<std::string>& topics, absl::Duration timeout);

// Where a partition without a stored offset starts, from the auto.offset.reset
// property ("earliest" unless set): kOffsetBeginning or kOffsetEnd. Sluice
// resolves auto.offset.reset itself; librdkafka gets "error", so that it never
// falls back to the group's offsets in Kafka (PostgreSQL holds the real ones) and
// an out-of-range position is reported instead of silently moved.
// INVALID_ARGUMENT for any other value.
absl::StatusOr<int64_t> StartForUnstoredPartitions(
    const std::map<std::string, std::string>& properties);

class KafkaMessageSource : public MessageSource {
 public:
  // Builds the consumer. INVALID_ARGUMENT names the property librdkafka refused.
  static absl::StatusOr<std::unique_ptr<KafkaMessageSource>> Create(KafkaSourceConfig config);
  ~KafkaMessageSource() override;

  absl::Status Subscribe(const std::vector<std::string>& topics,
                         RebalanceHandler* handler) override;
  absl::StatusOr<std::vector<Message>> Poll(size_t max_messages, absl::Duration timeout) override;
  void CommitAsync(const OffsetMap& next_offsets) override;
  absl::Status Seek(const OffsetMap& next_offsets) override;
  OffsetMap ResolveOffsets(const OffsetMap& symbolic) override;
  void Pause(const std::vector<TopicPartition>& partitions) override;
  void Resume(const std::vector<TopicPartition>& partitions);
  absl::Status Close() override;
  void Wake() override;
  std::vector<PartitionLag> Lag() const override;
  ClientView Client() const override;
  // The value librdkafka runs with for a consumer property (Sluice's default, the
  // user's or librdkafka's own); NOT_FOUND for a name it does not know.
  absl::StatusOr<std::string> EffectiveProperty(const std::string& name) const;
  int AssignedPartitionCount() const override { return assigned_count_.load(); }

 private:
  class Callbacks;
  KafkaMessageSource() = default;

  // Called from the librdkafka callbacks (on the Poll() thread).
  void HandleRebalance(int error_code, void* partitions_vector);
  void HandleStats(const std::string& json);
  // librdkafka could not fetch from `offset` (out of range): below the log start,
  // retention took the data, so move on to the start; beyond the end, stall.
  void HandleOutOfRange(const TopicPartition& tp, int64_t offset);
  // An ERR__AUTO_OFFSET_RESET for `tp` at `offset`: current or stale?
  void HandleResetError(const TopicPartition& tp, int64_t offset);
  // Assigns `tp` again at `offset` (an RdKafka::ErrorCode).
  int Reassign(const TopicPartition& tp, int64_t offset);
  // Seek() without dropping the messages of the running Poll(): for the expiry
  // path, where everything collected lies before the failed position.
  absl::Status SeekKeepingCollected(const OffsetMap& next_offsets);
  // Drops the messages of `partitions` collected so far by the running Poll().
  void DropCollected(const std::vector<TopicPartition>& partitions);

  std::unique_ptr<Callbacks> callbacks_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // The consumer's queue, which Poll() reads: Wake() yields it.
  ::rd_kafka_queue_s* consumer_queue_ = nullptr;
  // From Close() on, Wake() does nothing.
  absl::Mutex wake_mu_;
  bool wakes_ignored_ ABSL_GUARDED_BY(wake_mu_) = false;
  RebalanceHandler* handler_ = nullptr;
  bool closed_ = false;
  bool subscribed_ = false;
  // Whether the group ever assigned partitions (possibly none) to this consumer,
  // and whether its strategy is cooperative-sticky: see the destructor.
  bool ever_assigned_ = false;
  bool sticky_ = false;
  // Closed after joining but before any assignment: must not be destroyed.
  bool joined_unassigned_ = false;
  // The output of the running Poll(), so a revoke or seek inside it can drop what
  // was collected before; null outside Poll().
  std::vector<Message>* polling_ = nullptr;
  // Partitions assigned or sought whose next message starts a new stream.
  std::set<TopicPartition> fresh_;
  // Where each assigned partition's stream stands: the position it was assigned
  // or sought to (possibly symbolic), or one past the last message returned. Used
  // to re-assign at the right place, and to tell a current out-of-range error
  // from a stale one (librdkafka queues those without a version barrier).
  std::map<TopicPartition, int64_t> next_fetch_;
  // Partitions paused by Pause() and not sought since.
  std::set<TopicPartition> paused_;
  std::atomic<int> assigned_count_{0};
  bool read_headers_ = false;
  std::string fatal_error_;

  mutable absl::Mutex lag_mu_;
  std::map<TopicPartition, PartitionLag> lag_ ABSL_GUARDED_BY(lag_mu_);
  ClientView client_ ABSL_GUARDED_BY(lag_mu_);
};

}  // namespace sluice::worker

#endif  // SLUICE_WORKER_KAFKA_MESSAGE_SOURCE_H_
