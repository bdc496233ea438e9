#include "engine/log/ledger_export.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace tl {
namespace {

namespace pbu = google::protobuf::util;

// MessageToJsonString's own pipeline (BinaryToJsonString over the generated
// pool's type resolver), with the resolved types kept: the plain call
// converts the descriptors of Event and its bodies into google.protobuf.Type
// messages again for every event. Same resolver, same printer, so the same
// bytes (export_test compares with MessageToJsonString).
class CachingTypeResolver final : public pbu::TypeResolver {
 public:
  static constexpr char kPrefix[] = "type.googleapis.com";
  CachingTypeResolver()
      : inner_(pbu::NewTypeResolverForDescriptorPool(
            kPrefix, google::protobuf::DescriptorPool::generated_pool())) {}

  pbu::Status ResolveMessageType(const std::string& url, google::protobuf::Type* out) override {
    return Resolve(url, out, &types_, [this](const std::string& u, google::protobuf::Type* t) {
      return inner_->ResolveMessageType(u, t);
    });
  }
  pbu::Status ResolveEnumType(const std::string& url, google::protobuf::Enum* out) override {
    return Resolve(url, out, &enums_, [this](const std::string& u, google::protobuf::Enum* e) {
      return inner_->ResolveEnumType(u, e);
    });
  }

 private:
  template <typename T, typename F>
  pbu::Status Resolve(const std::string& url, T* out, std::map<std::string, T>* cache, F resolve) {
    absl::MutexLock lock(&mu_);
    auto it = cache->find(url);
    if (it == cache->end()) {
      T resolved;
      if (pbu::Status st = resolve(url, &resolved); !st.ok()) return st;
      it = cache->emplace(url, std::move(resolved)).first;
    }
    *out = it->second;
    return pbu::Status();
  }

  std::unique_ptr<pbu::TypeResolver> inner_;
  absl::Mutex mu_;
  std::map<std::string, google::protobuf::Type> types_;
  std::map<std::string, google::protobuf::Enum> enums_;
};

pbu::JsonPrintOptions JsonOptions() {
  pbu::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;      // user_id, not userId: the names of events.proto
  opts.always_print_primitive_fields = false;  // proto3's default: a zero field is left out
  opts.always_print_enums_as_ints = false;     // "outcome":"OUTCOME_WON"
  opts.add_whitespace = false;                 // one line
  return opts;
}

}  // namespace

std::string ExportLine(const pb::Event& event) {
  static CachingTypeResolver* const resolver = new CachingTypeResolver();  // never destroyed
  static const std::string* const url = new std::string(
      absl::StrCat(CachingTypeResolver::kPrefix, "/", pb::Event::descriptor()->full_name()));
  static const pbu::JsonPrintOptions opts = JsonOptions();
  std::string text;
  // Printing a valid message cannot fail (the schema is compiled in).
  (void)pbu::BinaryToJsonString(resolver, *url, event.SerializeAsString(), &text, opts);
  return text;
}

std::string ExportLineReference(const pb::Event& event) {
  std::string text;
  (void)pbu::MessageToJsonString(event, &text, JsonOptions());
  return text;
}

absl::Status ExportLedger(EventLog* ledger, int partition, absl::string_view campaign,
                          const ExportCursor& cursor, const ExportOptions& options,
                          const std::function<absl::Status(absl::string_view)>& sink,
                          ExportPage* page) {
  *page = ExportPage{};
  page->next_offset = cursor.offset;
  page->resume = cursor.ledger;
  const bool from_start = cursor.ledger.offset == 0 && cursor.ledger.next_sequence == 1;
  // From the start the first `offset` events are skipped; from a ledger
  // position, exactly `offset` of them lie before it already.
  uint64_t skip = from_start ? cursor.offset : 0;
  absl::StatusOr<uint64_t> end = ledger->EndOffset(partition);
  if (!end.ok()) return end.status();
  if (options.limit == 0) return absl::OkStatus();
  LedgerReader reader(ledger, partition, cursor.ledger, options.batch_records);
  LedgerBatch batch;
  std::string line;
  while (reader.position().offset < *end) {
    if (absl::Status st = reader.Next(&batch, *end); !st.ok()) return st;
    if (batch.read == 0) break;
    for (size_t i = 0; i < batch.size(); ++i) {
      const pb::Event& e = batch.events[i];
      if (e.campaign_id() != campaign) continue;
      if (e.has_campaign_created()) page->created = true;
      if (e.has_seed_revealed()) page->revealed = true;
      if (skip > 0) {
        --skip;
        continue;
      }
      line = ExportLine(e);
      line.push_back('\n');
      if (absl::Status st = sink(line); !st.ok()) return st;
      ++page->lines;
      ++page->next_offset;
      page->resume = LedgerPosition{batch.records[i].offset + 1, e.sequence() + 1};
      if (page->lines == options.limit) {
        // Complete only if nothing of the partition is left to look at.
        page->complete = i + 1 == batch.size() && reader.position().offset >= *end;
        return absl::OkStatus();
      }
    }
    if (options.progress) options.progress(reader.position().offset, *end);
  }
  if (skip > 0)
    return absl::OutOfRangeError(absl::StrCat("offset ", cursor.offset, " is past the ",
                                              cursor.offset - skip, " events of campaign ",
                                              campaign, " in the ledger"));
  page->complete = true;
  page->resume = reader.position();
  return absl::OkStatus();
}

}  // namespace tl
