#include "api/live.h"

#include <pthread.h>

#include <chrono>

#include "absl/time/clock.h"
#include "api/views.h"
#include "engine/core/names.h"

namespace tl::api {

using json = nlohmann::json;

namespace {
constexpr absl::Duration kFirstMessageGrace = absl::Seconds(1);
}  // namespace

struct LiveHub::Watcher {
  std::string campaign, user, address;
  int partition = 0;
  uint64_t min_id = 0;  // Last-Event-ID: never send an older state
  // Guarded by the hub's mu_.
  std::shared_ptr<http::StreamConn> conn;
  bool fresh = false, released = false;
  // The hub's thread only.
  std::string last_data;  // the last message sent, without its pass
  std::string pass;       // the won entry's admission pass, once minted
  uint64_t pass_hold_until_ms = 0;
  absl::Time opened, last_sent;
  bool sent_final = false;
};

struct LiveHub::Campaign {
  std::string id;
  int partition = 0;
  // Guarded by the hub's mu_.
  std::vector<std::shared_ptr<Watcher>> watchers;
  std::vector<OutcomeWait> waits;
  bool has_fresh = false;
  bool pending = false;  // changed since its last fan-out
  absl::Time last_fanout = absl::InfinitePast();
};

LiveHub::LiveHub(ApiBackend* backend, LiveOptions options, Metrics* metrics)
    : backend_(backend),
      options_(options),
      metrics_(metrics),
      streams_max_(std::max<size_t>(1, options.streams_memory_bytes / kStreamBytes)) {
  for (int p = 0; p < backend_->partitions(); ++p)
    dirty_.push_back(std::make_unique<std::atomic<bool>>(true));
  metrics_->Declare("ticketledger_live_streams", "gauge", "Open live streams (SSE and WebSocket)");
  metrics_->Declare("ticketledger_live_streams_max", "gauge",
                    "Live streams this server holds at most (from --streams-memory-mb)");
  metrics_->Declare("ticketledger_live_messages_total", "counter",
                    "Live messages sent to watchers (changes only)");
  metrics_->Declare("ticketledger_live_fanout_seconds", "histogram",
                    "Time to compute and queue one campaign's fan-out");
}

LiveHub::~LiveHub() { Stop(); }

void LiveHub::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "tl-live");
    Run();
  });
}

void LiveHub::Stop() {
  std::vector<std::pair<Campaign*, OutcomeWait>> waits;
  {
    absl::MutexLock lock(&mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // Answer the long-polls and let go of the streams while the server that
  // holds their connections still runs; the streams end when it stops.
  absl::MutexLock lock(&mu_);
  for (auto& [id, c] : campaigns_) {
    for (OutcomeWait& x : c->waits) x.done(CurrentEntry(*c, x.user));
    c->waits.clear();
    for (auto& w : c->watchers) w->conn.reset();
  }
}

json LiveHub::CurrentEntry(const Campaign& c, const std::string& user) {
  EntryView v;
  ItemFields f;
  backend_->WithState(c.partition, [&](const EngineState& s, uint64_t) {
    if (const CampaignState* cs = s.Find(c.id)) {
      v = EntryViewOf(*cs, user);
      f = ItemFieldsOf(*cs, user);
    }
  });
  return EntryJson(c.id, user, v, &f);
}

size_t LiveHub::streams() {
  absl::MutexLock lock(&mu_);
  return total_;
}

absl::StatusOr<std::shared_ptr<LiveHub::Watcher>> LiveHub::Reserve(const std::string& campaign,
                                                                   int partition,
                                                                   const std::string& user,
                                                                   const std::string& address,
                                                                   uint64_t last_id) {
  absl::MutexLock lock(&mu_);
  const char* refused = nullptr;
  absl::Status st;
  if (total_ >= streams_max_) {
    refused = "streams";
    st = absl::UnavailableError("the server holds as many live streams as its memory allows");
  } else if (per_user_[user] >= options_.streams_per_user_max) {
    refused = "streams_per_user";
    st = absl::ResourceExhaustedError(
        absl::StrCat("this user already holds ", options_.streams_per_user_max, " live streams"));
  } else if (per_address_[address] >= options_.streams_per_address_max) {
    refused = "streams_per_address";
    st = absl::ResourceExhaustedError(absl::StrCat(
        "this address already holds ", options_.streams_per_address_max, " live streams"));
  }
  if (refused) {
    if (per_user_[user] == 0) per_user_.erase(user);
    if (per_address_[address] == 0) per_address_.erase(address);
    metrics_->Add("ticketledger_http_limit_hits_total", {{"limit", refused}});
    return st;
  }
  ++total_;
  ++per_user_[user];
  ++per_address_[address];
  auto w = std::make_shared<Watcher>();
  w->campaign = campaign;
  w->user = user;
  w->address = address;
  w->partition = partition;
  w->min_id = last_id;
  return w;
}

void LiveHub::Open(const std::shared_ptr<Watcher>& w, std::shared_ptr<http::StreamConn> conn) {
  absl::MutexLock lock(&mu_);
  if (w->released) return;
  auto& c = campaigns_[w->campaign];
  if (!c) {
    c = std::make_unique<Campaign>();
    c->id = w->campaign;
    c->partition = w->partition;
  }
  w->conn = std::move(conn);
  w->fresh = true;
  w->opened = w->last_sent = absl::Now();
  c->watchers.push_back(w);
  c->has_fresh = true;
  wake_ = true;
}

void LiveHub::Release(const std::shared_ptr<Watcher>& w) {
  absl::MutexLock lock(&mu_);
  if (w->released) return;
  w->released = true;
  w->conn.reset();
  --total_;
  if (--per_user_[w->user] == 0) per_user_.erase(w->user);
  if (--per_address_[w->address] == 0) per_address_.erase(w->address);
}

void LiveHub::AwaitOutcome(const std::string& campaign, int partition, const std::string& user,
                           absl::Time deadline, std::function<void(json)> done) {
  absl::ReleasableMutexLock lock(&mu_);
  auto& c = campaigns_[campaign];
  if (!c) {
    c = std::make_unique<Campaign>();
    c->id = campaign;
    c->partition = partition;
  }
  if (stop_) {  // stopping: answer with the state now
    const Campaign& now = *c;
    lock.Release();
    return done(CurrentEntry(now, user));
  }
  c->waits.push_back(OutcomeWait{user, deadline, std::move(done)});
  wake_ = true;
}

void LiveHub::Progress(int partition) {
  if (partition >= 0 && partition < static_cast<int>(dirty_.size())) *dirty_[partition] = true;
}

void LiveHub::Run() {
  absl::Time last_sweep = absl::Now();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(50));
      if (stop_) return;
      wake_ = false;
    }
    absl::Time now = absl::Now();
    Tick(now);
    if (now - last_sweep < absl::Seconds(1)) continue;
    // Once a second: heartbeats, and streams at their age limit end.
    last_sweep = now;
    std::vector<std::shared_ptr<Watcher>> all;
    {
      absl::MutexLock lock(&mu_);
      for (auto& [id, c] : campaigns_)
        for (auto& w : c->watchers)
          if (!w->released && w->conn) all.push_back(w);
      metrics_->Set("ticketledger_live_streams", {}, static_cast<double>(total_));
      metrics_->Set("ticketledger_live_streams_max", {}, static_cast<double>(streams_max_));
    }
    for (auto& w : all) {
      if (now - w->opened > absl::Seconds(options_.stream_max_s)) {
        w->conn->Close();
      } else if (now - w->last_sent > absl::Seconds(options_.heartbeat_s)) {
        w->conn->Ping();
        w->last_sent = now;
      }
    }
  }
}

void LiveHub::Tick(absl::Time now) {
  std::vector<bool> dirty(dirty_.size());
  for (size_t p = 0; p < dirty_.size(); ++p) dirty[p] = dirty_[p]->exchange(false);
  struct Work {
    Campaign* c;
    std::vector<std::shared_ptr<Watcher>> watchers;
    std::vector<OutcomeWait> waits;
  };
  std::vector<Work> work;
  {
    absl::MutexLock lock(&mu_);
    const absl::Duration interval =
        std::max(absl::Milliseconds(options_.interval_ms),
                 absl::Seconds(1) * static_cast<double>(total_) /
                     static_cast<double>(std::max<size_t>(1, options_.messages_per_s_max)));
    for (auto it = campaigns_.begin(); it != campaigns_.end();) {
      Campaign* c = it->second.get();
      std::erase_if(c->watchers, [](const auto& w) { return w->released; });
      if (c->watchers.empty() && c->waits.empty()) {
        it = campaigns_.erase(it);
        continue;
      }
      ++it;
      if (dirty[c->partition]) c->pending = true;
      Work wk{c, {}, {}};
      if (c->pending && now - c->last_fanout >= interval) {
        c->pending = false;
        c->last_fanout = now;
        wk.watchers = c->watchers;
        for (auto& w : wk.watchers) w->fresh = false;
      } else if (c->has_fresh) {
        for (auto& w : c->watchers) {
          if (w->fresh) wk.watchers.push_back(w);
          w->fresh = false;
        }
      }
      c->has_fresh = false;
      if (!c->waits.empty() &&
          (dirty[c->partition] || std::any_of(c->waits.begin(), c->waits.end(),
                                              [&](const auto& x) { return x.deadline <= now; }))) {
        wk.waits = std::move(c->waits);
        c->waits.clear();
      }
      if (!wk.watchers.empty() || !wk.waits.empty()) work.push_back(std::move(wk));
    }
  }
  for (Work& wk : work) {
    auto t0 = std::chrono::steady_clock::now();
    if (!wk.watchers.empty()) FanOut(wk.c, wk.watchers, now);
    if (!wk.waits.empty()) {
      std::vector<EntryView> views(wk.waits.size());
      std::vector<ItemFields> fields(wk.waits.size());
      backend_->WithState(wk.c->partition, [&](const EngineState& s, uint64_t) {
        if (const CampaignState* cs = s.Find(wk.c->id)) {
          for (size_t i = 0; i < wk.waits.size(); ++i) {
            views[i] = EntryViewOf(*cs, wk.waits[i].user);
            fields[i] = ItemFieldsOf(*cs, wk.waits[i].user);
          }
        }
      });
      std::vector<OutcomeWait> still;
      for (size_t i = 0; i < wk.waits.size(); ++i) {
        OutcomeWait& x = wk.waits[i];
        if (IsDecided(views[i]) || x.deadline <= now) {
          x.done(EntryJson(wk.c->id, x.user, views[i], &fields[i]));
        } else {
          still.push_back(std::move(x));
        }
      }
      if (!still.empty()) {
        absl::MutexLock lock(&mu_);
        for (auto& x : still) wk.c->waits.push_back(std::move(x));
      }
    }
    metrics_->Observe("ticketledger_live_fanout_seconds", {},
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

void LiveHub::FanOut(Campaign* c, const std::vector<std::shared_ptr<Watcher>>& watchers,
                     absl::Time now) {
  std::vector<EntryView> views(watchers.size());
  std::vector<ItemFields> fields(watchers.size());
  uint64_t seq = 0;
  bool found = false;
  // With items: each item's places left, sent with every watcher's message
  // (so at most one per interval_ms per watcher: coalesced), as
  // "items":[{"id","stock_left"}].
  std::string items_text;
  backend_->WithState(c->partition, [&](const EngineState& s, uint64_t) {
    seq = s.next_sequence - 1;
    const CampaignState* cs = s.Find(c->id);
    if (!cs) return;
    found = true;
    for (size_t i = 0; i < watchers.size(); ++i) {
      views[i] = EntryViewOf(*cs, watchers[i]->user);
      fields[i] = ItemFieldsOf(*cs, watchers[i]->user);
    }
    if (cs->items() > 0) {
      json items = json::array();
      for (size_t i = 0; i < cs->items(); ++i)
        items.push_back({{"id", cs->snap.config().items(static_cast<int>(i)).id()},
                         {"stock_left", cs->ItemStockLeft(i)}});
      items_text = absl::StrCat(",\"items\":", items.dump());
    }
  });
  if (!found) return;
  size_t sent = 0;
  for (size_t i = 0; i < watchers.size(); ++i) {
    Watcher& w = *watchers[i];
    if (w.sent_final || seq < w.min_id) continue;
    // A stream opened right after its 202 usually comes before the engine's
    // decision: rather than "no entry" and "queued" a moment later, give the
    // decision a second to arrive (the hub looks again at its next tick).
    if (w.last_data.empty() && views[i].status.empty() && now - w.opened < kFirstMessageGrace) {
      absl::MutexLock lock(&mu_);
      w.fresh = true;
      c->has_fresh = true;
      continue;
    }
    std::shared_ptr<http::StreamConn> conn;
    {
      absl::MutexLock lock(&mu_);
      if (w.released) continue;
      conn = w.conn;
    }
    std::string data = EntryJsonText(c->id, w.user, views[i], &fields[i]);
    if (!items_text.empty()) data.insert(data.size() - 1, items_text);
    // Compared without the pass (minted fresh each time): a held win is not
    // final, so its watcher is looked at again at every change.
    if (data == w.last_data) continue;
    w.last_data = data;
    if (options_.pass && views[i].status == kWon) {
      // Minted once per win and hold (a held win's messages go on: the
      // serving counter moves); it expires with the hold (exp = deadline).
      if (w.pass.empty() || w.pass_hold_until_ms != views[i].hold_until_ms) {
        w.pass = options_.pass->Mint(c->id, views[i].position, w.user, absl::ToUnixSeconds(now),
                                     static_cast<int64_t>(views[i].hold_until_ms / 1000));
        w.pass_hold_until_ms = views[i].hold_until_ms;
      }
      json entry = json::parse(data);
      entry["pass"] = w.pass;
      data = entry.dump();
    }
    w.last_sent = now;
    w.sent_final = IsFinal(views[i]);
    conn->Send(http::LiveMessage{seq, std::move(data), w.sent_final});
    // Spread a large fan-out so the event loops keep answering requests
    // between its writes (one burst to 20,000 sockets stalls them).
    if (++sent % 512 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (sent > 0) metrics_->Add("ticketledger_live_messages_total", {}, static_cast<double>(sent));
}

}  // namespace tl::api
