// GET /v1/campaigns/{id}/ledger: the public ledger export (schemas/EXPORT.md),
// one page of NDJSON per request, only once the campaign's seed is revealed.
//
// A page is read from the ledger log itself (both api backends hold it:
// the node's embedded log, or the split api role's Kafka ledger), off the
// event loops. Memory is bounded by `limit` (lines per page) and by at most
// kExportsMax pages being built at once (more: 503 with Retry-After). Where
// a page ended is remembered (a few thousand cursors), so the next page
// reads on from there instead of from the partition's start.
#include <deque>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/api.h"
#include "engine/log/ledger_export.h"

namespace tl::api {
namespace {

constexpr uint64_t kPageDefault = 10'000;
constexpr uint64_t kPageMax = 50'000;  // ~30 MB at the longest user ids
constexpr int kExportsMax = 2;         // pages built at once (of the 4 blocking threads)
constexpr size_t kCursorsMax = 4096;

}  // namespace

struct Api::ExportCursors {
  absl::Mutex mu;
  // "campaign\noffset" -> the ledger position with exactly `offset` of the
  // campaign's events before it.
  std::map<std::string, LedgerPosition> at ABSL_GUARDED_BY(mu);
  std::deque<std::string> order ABSL_GUARDED_BY(mu);  // insertion order, for eviction
  int active ABSL_GUARDED_BY(mu) = 0;

  static std::string Key(const std::string& campaign, uint64_t offset) {
    return absl::StrCat(campaign, "\n", offset);
  }
  ExportCursor Find(const std::string& campaign, uint64_t offset) {
    absl::MutexLock lock(&mu);
    ExportCursor c;
    c.offset = offset;
    if (auto it = at.find(Key(campaign, offset)); it != at.end()) c.ledger = it->second;
    return c;
  }
  void Remember(const std::string& campaign, uint64_t offset, LedgerPosition pos) {
    absl::MutexLock lock(&mu);
    auto [it, added] = at.insert_or_assign(Key(campaign, offset), pos);
    if (!added) return;
    order.push_back(it->first);
    if (order.size() > kCursorsMax) {
      at.erase(order.front());
      order.pop_front();
    }
  }
};

std::shared_ptr<Api::ExportCursors> Api::NewExportCursors() {
  return std::make_shared<ExportCursors>();
}

void Api::GetLedger(const CallPtr& c) {
  uint64_t offset, limit;
  if (!QueryUint(c, "offset", 0, UINT64_MAX >> 1, &offset) ||
      !QueryUint(c, "limit", kPageDefault, kPageMax, &limit))
    return;
  if (limit == 0) return c->Error(400, "invalid_query", "query parameter 'limit' must be >= 1");
  bool revealed = false;
  if (!WithCampaign(c, [&](const CampaignState& cs) { revealed = cs.snap.revealed(); })) return;
  if (!revealed)
    return c->Error(409, "not_revealed",
                    absl::StrCat("campaign ", c->campaign,
                                 " has not revealed its seed yet: its ledger is exported after "
                                 "the reveal"));
  {
    absl::MutexLock lock(&export_cursors_->mu);
    if (export_cursors_->active >= kExportsMax) {
      c->headers.emplace_back("Retry-After", "1");
      return c->Error(503, "busy", "too many ledger exports at once; retry shortly");
    }
    ++export_cursors_->active;
  }
  options_.offload([this, c, offset, limit] {
    ExportCursor cursor = export_cursors_->Find(c->campaign, offset);
    ExportOptions options;
    options.limit = limit;
    std::string body;
    ExportPage page;
    absl::Status st = ExportLedger(
        backend_->ledger(), c->partition, c->campaign, cursor, options,
        [&body](absl::string_view line) {
          body.append(line.data(), line.size());
          return absl::OkStatus();
        },
        &page);
    {
      absl::MutexLock lock(&export_cursors_->mu);
      --export_cursors_->active;
    }
    if (absl::IsOutOfRange(st)) return c->Error(400, "invalid_query", st.message());
    if (absl::IsDataLoss(st)) return c->Error(500, "ledger_damaged", st.message());
    if (!st.ok())
      return c->Error(503, "ledger_unavailable",
                      absl::StrCat("the ledger could not be read: ", st.message()));
    export_cursors_->Remember(c->campaign, page.next_offset, page.resume);
    http::Response r;
    r.status = 200;
    r.content_type = "application/x-ndjson";
    r.body = std::move(body);
    r.Set("Ledger-Next-Offset", std::to_string(page.next_offset));
    r.Set("Ledger-Complete", page.complete ? "true" : "false");
    c->Respond(std::move(r));
  });
}

}  // namespace tl::api
