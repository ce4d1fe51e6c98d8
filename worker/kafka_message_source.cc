#include "worker/kafka_message_source.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "glog/logging.h"
#include "simdjson.h"
#include "worker/kafka_properties.h"

namespace sluice::worker {
namespace {

std::vector<TopicPartition> ToTopicPartitions(
    const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<TopicPartition> out;
  out.reserve(partitions.size());
  for (const RdKafka::TopicPartition* p : partitions) out.push_back({p->topic(), p->partition()});
  return out;
}

std::string Describe(const std::vector<TopicPartition>& partitions) {
  std::vector<std::string> names;
  for (const TopicPartition& tp : partitions) names.push_back(tp.ToString());
  return absl::StrJoin(names, ",");
}

// Owns the RdKafka::TopicPartition objects of a vector.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> list;
  ~PartitionList() { RdKafka::TopicPartition::destroy(list); }
};

PartitionList MakePartitionList(const OffsetMap& offsets) {
  PartitionList out;
  for (const auto& [tp, offset] : offsets) {
    out.list.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
  }
  return out;
}

}  // namespace

class KafkaMessageSource::Callbacks : public RdKafka::RebalanceCb, public RdKafka::EventCb {
 public:
  explicit Callbacks(KafkaMessageSource* source) : source_(source) {}

  void rebalance_cb(RdKafka::KafkaConsumer*, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    source_->HandleRebalance(static_cast<int>(err), &partitions);
  }

  void event_cb(RdKafka::Event& event) override {
    switch (event.type()) {
      case RdKafka::Event::EVENT_STATS:
        source_->HandleStats(event.str());
        break;
      case RdKafka::Event::EVENT_ERROR:
        if (event.fatal()) {
          source_->fatal_error_ = event.str();
          LOG(ERROR) << "kafka fatal error: " << event.str();
        } else {
          LOG(WARNING) << "kafka: " << RdKafka::err2str(event.err()) << ": " << event.str();
        }
        break;
      case RdKafka::Event::EVENT_LOG:
        if (event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING) {
          LOG(WARNING) << "librdkafka " << event.fac() << ": " << event.str();
        }
        break;
      default:
        break;
    }
  }

 private:
  KafkaMessageSource* source_;
};

absl::Status CheckTopicsExist(const KafkaSourceConfig& config,
                              const std::vector<std::string>& topics, absl::Duration timeout) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  conf->set("bootstrap.servers", config.brokers, error);
  for (const auto& [k, v] : config.properties) {
    // Consumer-only properties do not apply to this metadata client.
    if (k.rfind("security.", 0) == 0 || k.rfind("sasl.", 0) == 0 || k.rfind("ssl.", 0) == 0) {
      conf->set(k, v, error);
    }
  }
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), error));
  if (!client) return absl::InternalError(absl::StrCat("kafka metadata client: ", error));
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode err = client->metadata(
      /*all_topics=*/true, nullptr, &raw, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("kafka metadata from ", config.brokers, ": ", RdKafka::err2str(err)));
  }
  std::vector<std::string> missing;
  for (const std::string& topic : topics) {
    bool found = false;
    for (const RdKafka::TopicMetadata* t : *metadata->topics()) {
      if (t->topic() == topic && t->err() == RdKafka::ERR_NO_ERROR) found = true;
    }
    if (!found) missing.push_back(topic);
  }
  if (!missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("kafka topic", missing.size() > 1 ? "s " : " ", absl::StrJoin(missing, ", "),
                     " not found on ", config.brokers));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> StartForUnstoredPartitions(
    const std::map<std::string, std::string>& properties) {
  auto it = properties.find("auto.offset.reset");
  if (it == properties.end()) return kOffsetBeginning;
  const std::string& v = it->second;
  if (v == "earliest" || v == "smallest" || v == "beginning") return kOffsetBeginning;
  if (v == "latest" || v == "largest" || v == "end") return kOffsetEnd;
  return absl::InvalidArgumentError(absl::StrCat("kafka property auto.offset.reset=", v,
                                                 ": must be earliest or latest (where a partition "
                                                 "without an offset stored in PostgreSQL starts)"));
}

absl::StatusOr<std::unique_ptr<KafkaMessageSource>> KafkaMessageSource::Create(
    KafkaSourceConfig config) {
  std::unique_ptr<KafkaMessageSource> source(new KafkaMessageSource());
  source->callbacks_ = std::make_unique<Callbacks>(source.get());
  source->read_headers_ = config.read_headers;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  // Sluice's defaults; the caller's properties come after and win.
  std::map<std::string, std::string> props = SluiceConsumerDefaults();
  props["bootstrap.servers"] = config.brokers;
  props["group.id"] = config.group_id;
  props["client.id"] = config.client_id;
  for (const auto& [k, v] : config.properties) props[k] = v;
  BoundFetchResponse(&props);
  if (absl::StatusOr<int64_t> start = StartForUnstoredPartitions(props); !start.ok()) {
    return start.status();
  }
  // Sluice starts every partition at an explicit position (see
  // StartForUnstoredPartitions); librdkafka must never pick one by itself.
  source->sticky_ =
      props["partition.assignment.strategy"].find("cooperative-sticky") != std::string::npos;
  props["auto.offset.reset"] = "error";
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, error) != RdKafka::Conf::CONF_OK) {
      // A secret's value is never printed.
      return absl::InvalidArgumentError(absl::StrCat(
          "kafka property ", k, "=", IsSecretKafkaProperty(k) ? "(secret)" : v, ": ", error));
    }
  }
  if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(source->callbacks_.get()),
                error) != RdKafka::Conf::CONF_OK ||
      conf->set("event_cb", static_cast<RdKafka::EventCb*>(source->callbacks_.get()), error) !=
          RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka callbacks: ", error));
  }
  source->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), error));
  if (!source->consumer_) {
    return absl::InvalidArgumentError(absl::StrCat("creating kafka consumer: ", error));
  }
  source->consumer_queue_ = rd_kafka_queue_get_consumer(source->consumer_->c_ptr());
  if (source->consumer_queue_ == nullptr) {
    return absl::InternalError("kafka: the consumer has no consumer group queue");
  }
  // What bounds the consumer's memory, whoever set it (README "Memory").
  std::vector<std::string> bounds;
  for (const char* name : {"queued.max.messages.kbytes", "queued.min.messages", "fetch.max.bytes",
                           "max.partition.fetch.bytes"}) {
    absl::StatusOr<std::string> value = source->EffectiveProperty(name);
    bounds.push_back(absl::StrCat(name, "=", value.ok() ? *value : "?"));
  }
  LOG(INFO) << "kafka consumer prefetch bounds: " << absl::StrJoin(bounds, " ");
  return source;
}

absl::StatusOr<std::string> KafkaMessageSource::EffectiveProperty(const std::string& name) const {
  const rd_kafka_conf_t* conf = rd_kafka_conf(consumer_->c_ptr());
  size_t size = 0;
  if (rd_kafka_conf_get(conf, name.c_str(), nullptr, &size) != RD_KAFKA_CONF_OK) {
    return absl::NotFoundError(absl::StrCat("librdkafka has no property ", name));
  }
  std::string value(size, '\0');
  if (rd_kafka_conf_get(conf, name.c_str(), value.data(), &size) != RD_KAFKA_CONF_OK) {
    return absl::NotFoundError(absl::StrCat("librdkafka has no property ", name));
  }
  value.resize(size > 0 ? size - 1 : 0);  // size counts the terminating NUL
  return value;
}

namespace {

// What a destructor leaves undestroyed on purpose (the librdkafka 2.0.2 workaround
// below), kept reachable: it is not lost, and LeakSanitizer must not report it
// (it did, for the queue handle nothing else points to).
void KeepUndestroyed(const void* p) {
  static absl::Mutex mu(absl::kConstInit);
  static std::vector<const void*>* kept = new std::vector<const void*>();
  absl::MutexLock lock(&mu);
  kept->push_back(p);
}

}  // namespace

KafkaMessageSource::~KafkaMessageSource() {
  if (consumer_ == nullptr) return;
  if (!closed_) (void)Close();
  if (!joined_unassigned_) {
    if (consumer_queue_ != nullptr) rd_kafka_queue_destroy(consumer_queue_);
  } else {
    // librdkafka 2.0.2 asserts (rdkafka_sticky_assignor.c:1896, upstream issue
    // #4312, fixed after 2.0.2) when a cooperative-sticky consumer is destroyed
    // between its first JoinGroup and SyncGroup. Close() waited for the first
    // assignment; it never came, so keep the closed consumer rather than abort,
    // and its callbacks with it: librdkafka's threads may still log through them.
    // The consumer queue's handle stays too: its reference may be the last one
    // on a queue the undestroyed consumer's threads still use.
    LOG(WARNING) << "leaving a closed Kafka consumer undestroyed: it joined its group but "
                    "never received an assignment (librdkafka 2.0.2 aborts on destroying it)";
    KeepUndestroyed(consumer_.release());
    KeepUndestroyed(callbacks_.release());
    KeepUndestroyed(consumer_queue_);
  }
}

absl::Status KafkaMessageSource::Subscribe(const std::vector<std::string>& topics,
                                           RebalanceHandler* handler) {
  handler_ = handler;
  subscribed_ = true;
  RdKafka::ErrorCode err = consumer_->subscribe(topics);
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat("subscribing to ", absl::StrJoin(topics, ","), ": ", RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

void KafkaMessageSource::HandleRebalance(int error_code, void* partitions_vector) {
  auto& partitions = *static_cast<std::vector<RdKafka::TopicPartition*>*>(partitions_vector);
  const bool cooperative = consumer_->rebalance_protocol() == "COOPERATIVE";
  const std::vector<TopicPartition> tps = ToTopicPartitions(partitions);
  if (error_code == RdKafka::ERR__ASSIGN_PARTITIONS) {
    ever_assigned_ = true;
    OffsetMap start = handler_ ? handler_->OnPartitionsAssigned(tps) : OffsetMap();
    std::vector<TopicPartition> unread;
    for (RdKafka::TopicPartition* p : partitions) {
      const TopicPartition tp{p->topic(), p->partition()};
      auto it = start.find(tp);
      // Always an explicit position: never the group's committed offset in Kafka,
      // which may be ahead of what PostgreSQL holds.
      if (it != start.end()) {
        p->set_offset(it->second);
        fresh_.insert(tp);
        next_fetch_[tp] = it->second;
        paused_.erase(tp);
      } else {
        p->set_offset(RdKafka::Topic::OFFSET_INVALID);
        unread.push_back(tp);
      }
    }
    RdKafka::Error* e = nullptr;
    RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
    if (cooperative) {
      e = consumer_->incremental_assign(partitions);
    } else {
      err = consumer_->assign(partitions);
    }
    if (e != nullptr) {
      LOG(ERROR) << "incremental_assign: " << e->str();
      delete e;
    } else if (err != RdKafka::ERR_NO_ERROR) {
      LOG(ERROR) << "assign: " << RdKafka::err2str(err);
    }
    assigned_count_ += cooperative ? static_cast<int>(partitions.size())
                                   : static_cast<int>(partitions.size()) - assigned_count_;
    // The handler could not say where to start: do not let librdkafka guess.
    if (!unread.empty()) Pause(unread);
    LOG(INFO) << "assigned " << Describe(tps);
    return;
  }
  // Revoked (or lost): write out what is held for these partitions first.
  const bool lost = consumer_->assignment_lost();
  if (handler_) handler_->OnPartitionsRevoked(tps, lost);
  // The new owner reads these from the stored offsets; drop our copies. Only what
  // was collected so far: an eager rebalance may assign them back within the
  // same Poll(), and what is fetched after that is ours.
  DropCollected(tps);
  for (const TopicPartition& tp : tps) {
    fresh_.erase(tp);
    next_fetch_.erase(tp);
    paused_.erase(tp);
  }
  if (cooperative) {
    if (RdKafka::Error* e = consumer_->incremental_unassign(partitions)) {
      LOG(ERROR) << "incremental_unassign: " << e->str();
      delete e;
    }
    assigned_count_ -= static_cast<int>(partitions.size());
  } else {
    consumer_->unassign();
    assigned_count_ = 0;
  }
  {
    absl::MutexLock lock(&lag_mu_);
    for (const TopicPartition& tp : tps) lag_.erase(tp);
  }
  LOG(INFO) << (lost ? "lost " : "revoked ") << Describe(tps);
}

void KafkaMessageSource::HandleStats(const std::string& json) {
  // https://github.com/confluentinc/librdkafka/blob/master/STATISTICS.md:
  // topics.<name>.partitions.<id>.consumer_lag (-1 while unknown).
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc)) return;
  simdjson::dom::object topics;
  if (doc["topics"].get(topics)) return;
  std::map<TopicPartition, PartitionLag> lag;
  ClientView client;
  for (auto [topic_name, topic] : topics) {
    simdjson::dom::object partitions;
    if (topic["partitions"].get(partitions)) continue;
    for (auto [partition_id, partition] : partitions) {
      int32_t id = 0;
      if (!absl::SimpleAtoi(absl::string_view(partition_id.data(), partition_id.size()), &id) ||
          id < 0)
        continue;
      int64_t consumer_lag = -1;
      if (partition["consumer_lag"].get(consumer_lag)) continue;
      std::string_view fetch_state;
      if (!partition["fetch_state"].get(fetch_state) && fetch_state == "none") continue;
      PartitionLag& l = lag[{std::string(topic_name), id}];
      l.partition = {std::string(topic_name), id};
      l.lag = consumer_lag;
      // The last stable offset: under read_committed (librdkafka's default) the
      // messages past it are not delivered yet. The high watermark otherwise.
      if (partition["ls_offset"].get(l.high_watermark) || l.high_watermark < 0) {
        if (partition["hi_offset"].get(l.high_watermark)) l.high_watermark = -1;
      }
      ClientView::Fetched& f = client.fetched[l.partition];
      if (partition["rxmsgs"].get(f.messages)) f.messages = 0;
      if (partition["rxbytes"].get(f.bytes)) f.bytes = 0;
    }
  }
  simdjson::dom::object brokers;
  if (!doc["brokers"].get(brokers)) {
    for (auto [name, broker] : brokers) {
      // Logical brokers (the group coordinator's alias) have node id -1.
      int64_t node = -1;
      int64_t samples = 0;
      int64_t avg = 0;
      int64_t p99 = 0;
      if (broker["nodeid"].get(node) || node < 0) continue;
      if (broker["rtt"]["cnt"].get(samples) || samples == 0) continue;
      if (broker["rtt"]["avg"].get(avg) || broker["rtt"]["p99"].get(p99)) continue;
      client.brokers.push_back(
          {std::to_string(node), absl::Microseconds(avg), absl::Microseconds(p99)});
    }
  }
  absl::MutexLock lock(&lag_mu_);
  lag_ = std::move(lag);
  client_ = std::move(client);
}

absl::StatusOr<std::vector<Message>> KafkaMessageSource::Poll(size_t max_messages,
                                                              absl::Duration timeout) {
  std::vector<Message> out;
  out.reserve(std::min<size_t>(max_messages, 1024));
  polling_ = &out;
  const int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
  absl::Status status = absl::OkStatus();
  while (out.size() < max_messages) {
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(out.empty() ? wait_ms : 0));
    if (!m) break;
    if (m->err() == RdKafka::ERR__TIMED_OUT) break;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    if (m->err() == RdKafka::ERR__AUTO_OFFSET_RESET) {
      HandleResetError({m->topic_name(), m->partition()}, m->offset());
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      if (!fatal_error_.empty()) {
        status = absl::UnavailableError(absl::StrCat("kafka: ", fatal_error_));
        break;
      }
      LOG(WARNING) << "kafka consume: " << m->errstr();
      if (out.empty()) break;
      continue;
    }
    Message& msg = out.emplace_back();
    msg.topic = m->topic_name();
    msg.partition = m->partition();
    msg.offset = m->offset();
    TopicPartition tp{msg.topic, msg.partition};
    if (!fresh_.empty() && fresh_.erase(tp) > 0) msg.starts_stream = true;
    next_fetch_[std::move(tp)] = msg.offset + 1;
    if (const std::string* key = m->key()) msg.key = *key;
    if (m->payload() != nullptr) {
      msg.payload.emplace(static_cast<const char*>(m->payload()), m->len());
    }
    if (read_headers_) {
      msg.headers_read = true;
      // Headers come with the message from librdkafka; copied only when mapped.
      if (RdKafka::Headers* headers = m->headers()) {
        for (const RdKafka::Headers::Header& h : headers->get_all()) {
          std::optional<std::string> value;
          if (h.value() != nullptr)
            value.emplace(static_cast<const char*>(h.value()), h.value_size());
          msg.headers.emplace_back(h.key(), std::move(value));
        }
      }
    }
    const RdKafka::MessageTimestamp ts = m->timestamp();
    if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
      msg.timestamp = absl::FromUnixMillis(ts.timestamp);
    }
  }
  polling_ = nullptr;
  if (!status.ok()) return status;
  return out;
}

void KafkaMessageSource::DropCollected(const std::vector<TopicPartition>& partitions) {
  if (polling_ == nullptr || polling_->empty()) return;
  auto dropped = [&](const Message& m) {
    return std::find(partitions.begin(), partitions.end(), m.topic_partition()) != partitions.end();
  };
  polling_->erase(std::remove_if(polling_->begin(), polling_->end(), dropped), polling_->end());
}

void KafkaMessageSource::HandleResetError(const TopicPartition& tp, int64_t offset) {
  auto at = next_fetch_.find(tp);
  if (at == next_fetch_.end()) return;  // not ours any more
  if (offset < 0) {
    // A logical offset (earliest/latest) could not be looked up: librdkafka
    // queries it again by itself.
    LOG(WARNING) << "kafka could not resolve " << DescribeOffset(offset) << " for " << tp.ToString()
                 << "; it retries";
    return;
  }
  // The error carries the failed fetch offset, which need not be where the
  // returned stream stands (fetching skips control records and compacted
  // tails), and librdkafka queues it without a version barrier, so it may also
  // predate a later seek. Tell them apart by asking the partition itself: only a
  // partition whose fetching stopped refuses a seek (ERR__STATE).
  std::unique_ptr<RdKafka::TopicPartition> probe(
      RdKafka::TopicPartition::create(tp.topic, tp.partition, at->second));
  const RdKafka::ErrorCode err = consumer_->seek(*probe, 5000);
  if (err == RdKafka::ERR_NO_ERROR) {
    // Still fetching: a stale error. The seek went to where the stream stands.
    fresh_.insert(tp);
    VLOG(1) << "ignoring a stale out-of-range error for " << tp.ToString() << " at " << offset;
    return;
  }
  if (err != RdKafka::ERR__STATE) {
    LOG(WARNING) << "checking " << tp.ToString()
                 << " after an out-of-range error: " << RdKafka::err2str(err);
  }
  HandleOutOfRange(tp, offset);
}

void KafkaMessageSource::HandleOutOfRange(const TopicPartition& tp, int64_t offset) {
  int64_t low = -1, high = -1;
  RdKafka::ErrorCode err =
      consumer_->query_watermark_offsets(tp.topic, tp.partition, &low, &high, 5000);
  if (err != RdKafka::ERR_NO_ERROR) {
    Pause({tp});
    if (handler_) {
      handler_->OnPartitionStalled(tp,
                                   absl::StrCat("offset ", offset,
                                                " is out of range and the log's bounds could not "
                                                "be read: ",
                                                RdKafka::err2str(err),
                                                " (read again at the next "
                                                "recheck)"),
                                   RebalanceHandler::StallKind::kTransient);
    }
    return;
  }
  if (offset >= 0 && offset < low) {
    absl::Status sought = SeekKeepingCollected({{tp, low}});
    if (!sought.ok()) LOG(WARNING) << sought.message();
    if (handler_) handler_->OnMessagesExpired(tp, offset, low);
    return;
  }
  Pause({tp});
  if (handler_) {
    handler_->OnPartitionStalled(
        tp,
        absl::StrCat("its stored offset ", offset, " is beyond the end of the log (offsets ", low,
                     "..", high,
                     "): the topic was recreated or the offset set too far; "
                     "nothing is read until the stored offset is reset "
                     "(sluicectl offsets reset)"),
        RebalanceHandler::StallKind::kNeedsOperator);
  }
}

void KafkaMessageSource::CommitAsync(const OffsetMap& next_offsets) {
  if (next_offsets.empty()) return;
  PartitionList list = MakePartitionList(next_offsets);
  RdKafka::ErrorCode err = consumer_->commitAsync(list.list);
  if (err != RdKafka::ERR_NO_ERROR) {
    VLOG(1) << "kafka commit: " << RdKafka::err2str(err);
  }
}

absl::Status KafkaMessageSource::Seek(const OffsetMap& next_offsets) {
  std::vector<TopicPartition> sought;
  for (const auto& [tp, offset] : next_offsets) sought.push_back(tp);
  DropCollected(sought);
  return SeekKeepingCollected(next_offsets);
}

absl::Status KafkaMessageSource::SeekKeepingCollected(const OffsetMap& next_offsets) {
  std::vector<TopicPartition> sought;
  for (const auto& [tp, offset] : next_offsets) {
    std::unique_ptr<RdKafka::TopicPartition> p(
        RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
    RdKafka::ErrorCode err = consumer_->seek(*p, 5000);
    // A partition whose fetching stopped (its position was out of range) cannot
    // be sought, only assigned again.
    if (err == RdKafka::ERR__STATE) err = static_cast<RdKafka::ErrorCode>(Reassign(tp, offset));
    if (err != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(absl::StrCat(
          "seeking ", tp.ToString(), " to ", DescribeOffset(offset), ": ", RdKafka::err2str(err)));
    }
    fresh_.insert(tp);
    next_fetch_[tp] = offset;
    sought.push_back(tp);
  }
  Resume(sought);
  return absl::OkStatus();
}

int KafkaMessageSource::Reassign(const TopicPartition& tp, int64_t offset) {
  if (consumer_->rebalance_protocol() == "COOPERATIVE") {
    PartitionList one = MakePartitionList({{tp, offset}});
    if (RdKafka::Error* e = consumer_->incremental_unassign(one.list)) {
      const RdKafka::ErrorCode code = e->code();
      delete e;
      return code;
    }
    if (RdKafka::Error* e = consumer_->incremental_assign(one.list)) {
      const RdKafka::ErrorCode code = e->code();
      delete e;
      return code;
    }
    return RdKafka::ERR_NO_ERROR;
  }
  // Eager: the whole assignment again, every other partition where its stream
  // stands (never OFFSET_INVALID: that would read the group's offsets in Kafka),
  // paused ones paused again.
  PartitionList all;
  RdKafka::ErrorCode err = consumer_->assignment(all.list);
  if (err != RdKafka::ERR_NO_ERROR) return err;
  std::vector<TopicPartition> repause;
  for (RdKafka::TopicPartition* p : all.list) {
    const TopicPartition other{p->topic(), p->partition()};
    if (other == tp) {
      p->set_offset(offset);
      continue;
    }
    auto at = next_fetch_.find(other);
    if (at != next_fetch_.end()) {
      p->set_offset(at->second);
    } else {
      p->set_offset(RdKafka::Topic::OFFSET_INVALID);
      paused_.insert(other);  // never placed: stays unread
    }
    if (paused_.count(other) > 0) repause.push_back(other);
  }
  err = consumer_->assign(all.list);
  if (err == RdKafka::ERR_NO_ERROR) Pause(repause);
  return err;
}

OffsetMap KafkaMessageSource::ResolveOffsets(const OffsetMap& symbolic) {
  // ListOffsets takes Kafka's logical timestamps -2 (earliest) and -1 (latest)
  // as they are: one request per leader, all under one deadline, whereas
  // query_watermark_offsets asks partition by partition and bounds only the
  // leader lookup, not the answer.
  PartitionList list = MakePartitionList(symbolic);
  const RdKafka::ErrorCode err = consumer_->offsetsForTimes(list.list, 5000);
  OffsetMap resolved;
  if (err != RdKafka::ERR_NO_ERROR) {
    LOG(WARNING) << "kafka could not resolve start positions: " << RdKafka::err2str(err);
    return resolved;
  }
  for (const RdKafka::TopicPartition* p : list.list) {
    if (p->err() != RdKafka::ERR_NO_ERROR || p->offset() < 0) {
      LOG(WARNING) << "kafka could not resolve a start position of " << p->topic() << "/"
                   << p->partition() << ": " << RdKafka::err2str(p->err());
      continue;
    }
    resolved[{p->topic(), p->partition()}] = p->offset();
  }
  return resolved;
}

void KafkaMessageSource::Pause(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return;
  paused_.insert(partitions.begin(), partitions.end());
  OffsetMap offsets;
  for (const TopicPartition& tp : partitions) offsets[tp] = RdKafka::Topic::OFFSET_INVALID;
  PartitionList list = MakePartitionList(offsets);
  consumer_->pause(list.list);
}

void KafkaMessageSource::Resume(const std::vector<TopicPartition>& partitions) {
  if (partitions.empty()) return;
  for (const TopicPartition& tp : partitions) paused_.erase(tp);
  OffsetMap offsets;
  for (const TopicPartition& tp : partitions) offsets[tp] = RdKafka::Topic::OFFSET_INVALID;
  PartitionList list = MakePartitionList(offsets);
  consumer_->resume(list.list);
}

absl::Status KafkaMessageSource::Close() {
  if (closed_) return absl::OkStatus();
  {
    // rd_kafka_consumer_close() serves this same queue until the group is left;
    // a yield would end that early (revoke skipped, leave incomplete).
    absl::MutexLock lock(&wake_mu_);
    wakes_ignored_ = true;
  }
  // rebalance_protocol() is NONE until a JoinGroup response set the group's
  // assignor: only then can destroying the consumer hit the assertion.
  if (sticky_ && subscribed_ && !ever_assigned_ && consumer_->rebalance_protocol() != "NONE") {
    // See the destructor: let the first join finish (bounded) so the consumer
    // can be destroyed. Whatever arrives meanwhile is not ours to keep: the next
    // owner reads it from the stored offsets.
    const absl::Time until = absl::Now() + absl::Seconds(10);
    while (!ever_assigned_ && absl::Now() < until) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(100));
    }
    joined_unassigned_ = !ever_assigned_;
  }
  closed_ = true;
  RdKafka::ErrorCode err = consumer_->close();
  if (err != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("closing kafka consumer: ", RdKafka::err2str(err)));
  }
  return absl::OkStatus();
}

void KafkaMessageSource::Wake() {
  // rd_kafka_consumer_poll() serves this queue; a yield makes it return at once.
  absl::MutexLock lock(&wake_mu_);
  if (!wakes_ignored_) rd_kafka_queue_yield(consumer_queue_);
}

ClientView KafkaMessageSource::Client() const {
  absl::MutexLock lock(&lag_mu_);
  return client_;
}

std::vector<PartitionLag> KafkaMessageSource::Lag() const {
  absl::MutexLock lock(&lag_mu_);
  std::vector<PartitionLag> out;
  for (const auto& [tp, lag] : lag_) out.push_back(lag);
  return out;
}

}  // namespace sluice::worker
