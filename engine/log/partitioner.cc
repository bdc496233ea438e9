#include <librdkafka/rdkafka.h>

#include "engine/core/check.h"
#include "engine/log/event_log.h"

namespace tl {

int PartitionFor(std::string_view key, int partitions) {
  TL_CHECK_GT(partitions, 0);
  // librdkafka's murmur2 partitioner is the Java client's
  // (Utils.toPositive(murmur2(key)) % n); it only touches the topic handle
  // for a null key, which a campaign id never is.
  return rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), partitions, nullptr,
                                          nullptr);
}

}  // namespace tl
