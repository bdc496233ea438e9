// The load itself: one worker process runs `--threads` lanes, each a thread
// with its own io_context. A lane launches its share of the arrivals at their
// scheduled times; every virtual user is a coroutine (connect, enter, follow
// the live channel), so nothing holds a thread while it waits.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <thread>

#include "api/jwt.h"
#include "benchmarks/ticketload.h"
#include "benchmarks/ticketload_http.h"

namespace tl::load {
namespace {

struct Progress {
  std::atomic<uint64_t> arrivals{0}, acked{0}, watching{0}, streams{0}, finished{0}, errors{0};
};

int64_t ToUs(double s) { return static_cast<int64_t>(s * 1e6); }

class Lane {
 public:
  Lane(const Options& o, const std::vector<Phase>& phases, const Target& target, int lane,
       int lanes, Progress& progress, std::vector<std::pair<int64_t, uint64_t>> plan,
       uint32_t conns)
      : o_(o),
        phases_(phases),
        target_(target),
        lane_(lane),
        lanes_(lanes),
        progress_(progress),
        plan_(std::move(plan)),
        conns_(conns),
        signal_(io_, asio::steady_timer::time_point::max()),
        source_counter_(static_cast<uint64_t>(lane)) {
    stats.phases.resize(phases.size());
  }

  void Run() {
    asio::co_spawn(io_, Scheduler(), asio::detached);
    for (uint32_t i = 0; i < conns_; ++i) asio::co_spawn(io_, PoolConnection(), asio::detached);
    if (o_.enter_rate > 0) asio::co_spawn(io_, Background(), asio::detached);
    io_.run();
  }
  void Stop() { io_.stop(); }

  Stats stats;

 private:
  bool closed_loop() const { return o_.requests > 0; }

  std::string Token(const VuRecord& r) {
    const int64_t exp = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() +
                        24 * 3600;
    return api::MintJwt(api::Claims{UserName(o_.user_prefix, r.kind, r.index), false, exp},
                        o_.jwt_secret);
  }

  void Fail(const VuRecord& r, const std::string& kind) {
    stats.Error(r.phase, kind);
    ++progress_.errors;
  }

  size_t NewRecord(Kind kind, uint64_t index, int64_t t_arrival) {
    VuRecord r;
    r.kind = kind;
    r.index = index;
    r.t_arrival = t_arrival;
    r.phase = PhaseAt(phases_, static_cast<double>(t_arrival) / 1e6);
    PhaseStats& ph = stats.phases[r.phase];
    ++(kind == Kind::kBackground ? ph.bg_arrivals : ph.arrivals);
    stats.client_lag_max = std::max(stats.client_lag_max, NowUs() - t_arrival);
    stats.records.push_back(r);
    ++progress_.arrivals;
    if (kind == Kind::kMain) ++main_active_;
    return stats.records.size() - 1;
  }

  void Finish(VuRecord& r) {
    r.done = true;
    ++progress_.finished;
    if (r.kind == Kind::kMain && --main_active_ == 0 && plan_done_) signal_.cancel();
  }

  asio::awaitable<void> Sleep(int64_t us) {
    asio::steady_timer t(io_, std::chrono::microseconds(us));
    co_await t.async_wait(kAw);
  }

  // Launches each planned arrival at its time: its own connection, or the
  // queue the pooled connections take from.
  asio::awaitable<void> Scheduler() {
    asio::steady_timer timer(io_);
    for (const auto& [t, index] : plan_) {
      if (t > NowUs()) {
        timer.expires_at(g_t0 + std::chrono::microseconds(t));
        co_await timer.async_wait(kAw);
      }
      size_t slot = NewRecord(Kind::kMain, index, t);
      if (conns_ > 0) {
        ready_.push_back(slot);
        signal_.cancel_one();
      } else {
        asio::co_spawn(io_, User(slot), asio::detached);
      }
    }
    plan_done_ = true;
    signal_.cancel();
  }

  // The separate stream of entering users (--enter-rate), each on a fresh
  // connection, for as long as this lane's main users are still active.
  asio::awaitable<void> Background() {
    const double period_us = 1e6 * lanes_ / o_.enter_rate;
    auto next = static_cast<double>(period_us) * lane_ / lanes_;
    for (uint64_t k = 0;; ++k) {
      if (next > static_cast<double>(NowUs())) co_await Sleep(static_cast<int64_t>(next) - NowUs());
      if (plan_done_ && main_active_ == 0) co_return;
      const size_t slot = NewRecord(Kind::kBackground, k * lanes_ + lane_, NowUs());
      asio::co_spawn(io_, User(slot), asio::detached);
      next += period_us;
    }
  }

  asio::awaitable<bool> Open(beast::tcp_stream& s, VuRecord& r) {
    const int64_t t = NowUs();
    error_code ec = co_await Connect(s, target_, SourceAddress(o_.source_addrs, source_counter_++),
                                     o_.connect_timeout_s);
    if (ec) {
      Fail(r, ErrorKind(ec, true));
      co_return false;
    }
    stats.phases[r.phase].connect.Record(NowUs() - t);
    co_return true;
  }

  // POST the entry; true on 202.
  asio::awaitable<bool> Enter(beast::tcp_stream& s, beast::flat_buffer& buf, VuRecord& r,
                              const std::string& token, int64_t t_start, bool* keep_alive) {
    auto req = EntryRequest(target_, o_.campaign, token);
    s.expires_after(Seconds(o_.timeout_s));
    stats.first_send = std::min(stats.first_send, NowUs());
    if (auto [ec, n] = co_await http::async_write(s, req, kAw); ec) {
      Fail(r, ErrorKind(ec, false));
      co_return false;
    }
    http::response<http::string_body> res;
    if (auto [ec, n] = co_await http::async_read(s, buf, res, kAw); ec) {
      Fail(r, ErrorKind(ec, false));
      co_return false;
    }
    const int64_t now = NowUs();
    r.status = res.result_int();
    *keep_alive = res.keep_alive();
    if (r.status != 202) {
      Fail(r, "http_" + std::to_string(r.status));
      co_return false;
    }
    r.t_ack = now;
    PhaseStats& ph = stats.phases[r.phase];
    if (r.kind == Kind::kBackground) {
      ph.bg_ack.Record(now - t_start);
      ++ph.bg_acked;
      Stats::Bin(stats.bg_ack_bins, now);
    } else {
      ph.ack.Record(now - t_start);
      ++ph.acked;
      Stats::Bin(stats.ack_bins, now);
    }
    stats.last_ack = std::max(stats.last_ack, now);
    ++progress_.acked;
    co_return true;
  }

  // A user with a connection of its own: connect, enter, and (--watch) follow
  // the live channel on the same keep-alive connection.
  asio::awaitable<void> User(size_t slot) {
    VuRecord& r = stats.records[slot];
    beast::tcp_stream s(io_);
    beast::flat_buffer buf;
    const std::string token = Token(r);
    bool keep = false;
    if (co_await Open(s, r) && co_await Enter(s, buf, r, token, r.t_arrival, &keep) &&
        r.kind == Kind::kMain && o_.watch) {
      if (!keep) s.close();
      co_await Watch(keep ? &s : nullptr, &buf, r, token);
    }
    Finish(r);
  }

  // One keep-alive connection of the pool (--conns): takes the next ready
  // user, enters it, and hands watching over to a connection of its own.
  asio::awaitable<void> PoolConnection() {
    beast::tcp_stream s(io_);
    beast::flat_buffer buf;
    bool open = false;
    while (true) {
      while (ready_.empty()) {
        if (plan_done_) co_return;
        co_await signal_.async_wait(kAw);
      }
      const size_t slot = ready_.front();
      ready_.pop_front();
      VuRecord& r = stats.records[slot];
      if (!open) {
        buf.clear();
        if (!(open = co_await Open(s, r))) {
          s.close();
          Finish(r);
          continue;
        }
      }
      const std::string token = Token(r);
      bool keep = false;
      const bool ok =
          co_await Enter(s, buf, r, token, closed_loop() ? NowUs() : r.t_arrival, &keep);
      if (!ok || !keep) {
        s.close();
        open = false;
      }
      if (ok && o_.watch) {
        asio::co_spawn(
            io_,
            [this, slot, token]() -> asio::awaitable<void> {
              VuRecord& rec = stats.records[slot];
              co_await Watch(nullptr, nullptr, rec, token);
              Finish(rec);
            },
            asio::detached);
      } else {
        Finish(r);
      }
    }
  }

  // Follows the user's place on the live channel until a final status,
  // reconnecting with Last-Event-ID when the stream drops.
  asio::awaitable<void> Watch(beast::tcp_stream* reuse, beast::flat_buffer* reuse_buf, VuRecord& r,
                              const std::string& token) {
    r.watched = true;
    ++progress_.watching;
    const int64_t deadline = NowUs() + ToUs(o_.watch_timeout_s);
    SseParser sse;
    std::optional<beast::tcp_stream> own;
    beast::flat_buffer own_buf;
    beast::tcp_stream* s = reuse;
    beast::flat_buffer* buf = reuse_buf;
    int64_t last_msg = -1;
    bool final = false;
    // A stream that delivered something resets the count: --stream-retries
    // bounds failures in a row, not a long wait's routine reconnects.
    for (int failures = 0;; ++failures) {
      const uint32_t updates_before = r.updates;
      std::string why;
      if (!s) {
        own.emplace(io_);
        own_buf.clear();
        error_code ec = co_await Connect(
            *own, target_, SourceAddress(o_.source_addrs, source_counter_++), o_.connect_timeout_s);
        if (ec) {
          why = ErrorKind(ec, true);
        } else {
          s = &*own;
          buf = &own_buf;
        }
      }
      if (s) why = co_await Stream(*s, *buf, r, token, sse, deadline, &last_msg, &final);
      if (final) break;
      if (r.updates > updates_before) failures = 0;
      if (s) s->close();
      s = nullptr;
      Fail(r, why);
      if (why == "watch_timeout") break;
      if (failures >= o_.stream_retries) {
        Fail(r, "watch_gave_up");
        break;
      }
      ++r.reconnects;
      const int64_t backoff = sse.retry_ms() >= 0
                                  ? sse.retry_ms() * 1000LL
                                  : std::min<int64_t>(500'000LL << failures, 5'000'000);
      co_await Sleep(std::min(backoff, std::max<int64_t>(0, deadline - NowUs())));
    }
    --progress_.watching;
    stats.updates.Record(r.updates);
    if (r.updates > 1) stats.max_gap.Record(r.max_gap);
  }

  // One GET /events on a connected stream. Returns "" after a final status,
  // else why the stream ended.
  asio::awaitable<std::string> Stream(beast::tcp_stream& s, beast::flat_buffer& buf, VuRecord& r,
                                      const std::string& token, SseParser& sse, int64_t deadline,
                                      int64_t* last_msg, bool* final) {
    auto req = EventsRequest(target_, o_.campaign, token, sse.last_event_id());
    s.expires_after(Seconds(o_.timeout_s));
    if (auto [ec, n] = co_await http::async_write(s, req, kAw); ec) co_return ErrorKind(ec, false);
    http::response_parser<http::string_body> p;
    p.body_limit(boost::none);
    if (auto [ec, n] = co_await http::async_read_header(s, buf, p, kAw); ec)
      co_return ErrorKind(ec, false);
    if (p.get().result_int() != 200) co_return "sse_http_" + std::to_string(p.get().result_int());
    ++progress_.streams;  // an open stream, until this returns
    struct Closed {
      std::atomic<uint64_t>& n;
      ~Closed() { --n; }
    } closed{progress_.streams};

    auto on_message = [&](const SseParser::Message& m) {
      const int64_t now = NowUs();
      ++stats.messages;
      if (r.updates++ == 0) {
        r.t_first_update = now;
        if (r.t_ack >= 0) stats.phases[r.phase].first_update.Record(now - r.t_ack);
      } else {
        r.max_gap = std::max(r.max_gap, now - *last_msg);
      }
      *last_msg = now;
      std::string_view d = m.data;
      if (auto pos = JsonUint(d, "position"); pos && *pos) r.position = *pos;
      auto serving = JsonUint(d, "serving");
      if (serving) stats.serving_first.emplace(*serving, now);
      if (r.t_reach < 0 && r.position && serving && *serving >= r.position) r.t_reach = now;
      if (Outcome oc = OutcomeFromName(JsonString(d, "status")); oc != Outcome::kNone) {
        r.outcome = oc;
        *final = true;
      }
    };
    auto on_comment = [&] { ++stats.comments; };

    while (!p.is_done()) {
      const int64_t now = NowUs();
      if (now >= deadline) co_return "watch_timeout";
      s.expires_after(std::chrono::microseconds(std::min(deadline - now, ToUs(o_.stream_idle_s))));
      auto [ec, n] = co_await http::async_read_some(s, buf, p, kAw);
      std::string& body = p.get().body();
      if (!body.empty()) {
        sse.Feed(body, on_message, on_comment);
        body.clear();
      }
      if (*final) co_return "";
      if (ec == beast::error::timeout)
        co_return NowUs() >= deadline ? "watch_timeout" : "stream_idle";
      if (ec) co_return "stream_dropped";
    }
    co_return "stream_ended_early";  // the server ended the response before a final status
  }

  const Options& o_;
  const std::vector<Phase>& phases_;
  const Target& target_;
  const int lane_, lanes_;
  Progress& progress_;
  std::vector<std::pair<int64_t, uint64_t>> plan_;  // (time, user index)
  const uint32_t conns_;
  asio::io_context io_{1};
  asio::steady_timer signal_;  // never expires: cancel() wakes the pool
  std::deque<size_t> ready_;
  bool plan_done_ = false;
  uint64_t main_active_ = 0;
  uint64_t source_counter_;
};

void WriteLine(int fd, const std::string& line) {
  std::string s = line + "\n";
  for (size_t off = 0; off < s.size();) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace

int RunWorker(const Options& o, const std::vector<Phase>& phases, int worker, int out_fd) {
  const Target target = ParseUrl(o.url);
  const std::vector<int64_t> times = ArrivalTimes(o);
  const int lanes_total = o.procs * o.threads;
  Progress progress;
  std::vector<std::unique_ptr<Lane>> lanes;
  for (int t = 0; t < o.threads; ++t) {
    const int lane = worker * o.threads + t;
    std::vector<std::pair<int64_t, uint64_t>> plan;
    for (size_t i = static_cast<size_t>(lane); i < times.size(); i += lanes_total)
      plan.emplace_back(times[i], i);
    uint32_t conns = 0;
    if (o.conns > 0) {
      conns = o.conns / lanes_total + (static_cast<uint32_t>(lane) < o.conns % lanes_total ? 1 : 0);
      conns = std::max<uint32_t>(conns, 1);
    }
    lanes.push_back(std::make_unique<Lane>(o, phases, target, lane, lanes_total, progress,
                                           std::move(plan), conns));
  }
  std::atomic<int> running{o.threads};
  std::vector<std::thread> threads;
  for (auto& l : lanes) {
    threads.emplace_back([&, lane = l.get()] {
      lane->Run();
      --running;
    });
  }
  // Sample the open streams gauge, report progress, enforce --max-duration-s.
  std::vector<uint64_t> watching_bins;
  int64_t next_report = 0;
  bool stopped = false;
  while (running > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const int64_t now = NowUs();
    if (now >= 0) {
      const auto bin = static_cast<size_t>(now / 100'000);
      if (watching_bins.size() <= bin) watching_bins.resize(bin + 1, 0);
      watching_bins[bin] = std::max<uint64_t>(watching_bins[bin], progress.streams);
    }
    if (now >= next_report) {
      next_report = now + 250'000;
      WriteLine(out_fd, json{{"type", "progress"},
                             {"arrivals", progress.arrivals.load()},
                             {"acked", progress.acked.load()},
                             {"watching", progress.watching.load()},
                             {"streams", progress.streams.load()},
                             {"finished", progress.finished.load()},
                             {"errors", progress.errors.load()}}
                            .dump());
    }
    if (!stopped && now > ToUs(o.max_duration_s)) {
      stopped = true;
      for (auto& l : lanes) l->Stop();
    }
  }
  for (auto& t : threads) t.join();
  Stats all;
  all.phases.resize(phases.size());
  for (auto& l : lanes) all.Merge(l->stats);
  all.watching_bins = std::move(watching_bins);
  for (const VuRecord& r : all.records)
    if (!r.done) all.Error(r.phase, "unfinished");
  WriteLine(out_fd, json{{"type", "result"}, {"stats", all.ToJson()}}.dump());
  return 0;
}

}  // namespace tl::load
