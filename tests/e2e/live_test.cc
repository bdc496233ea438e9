// End to end: the live waiting-room channel (api/EDGE_SPEC.md, "Live
// channel") of a real ticketd on loopback. Watchers share one Asio event loop
// (no thread per watcher): each enters, opens a Server-Sent Events stream or a
// WebSocket, and what it saw is checked against the API's own answers
// (results, entries/me) once every outcome is decided.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"
#include "tests/support/ticketd_process.h"

namespace tl::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

json Body(const httplib::Result& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void CreateCampaign(httplib::Client& c, const json& spec) {
  auto r = c.Post("/v1/admin/campaigns", Auth(Token("ops", true)), spec.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
}

// An admin action on a campaign: pause, resume, close...
void AdminAction(httplib::Client& c, const std::string& campaign, const std::string& action) {
  auto r = c.Post("/v1/admin/campaigns/" + campaign + "/" + action, Auth(Token("ops", true)), "",
                  "application/json");
  ASSERT_TRUE(r) << action;
  ASSERT_EQ(r->status, 200) << action << ": " << r->body;
}

void Enter(httplib::Client& c, const std::string& campaign, const std::string& user) {
  auto r =
      c.Post("/v1/campaigns/" + campaign + "/entries", Auth(Token(user)), "", "application/json");
  ASSERT_TRUE(r) << user;
  ASSERT_EQ(r->status, 202) << user << ": " << r->body;
}

bool IsFinal(const json& status) {
  static const std::set<std::string> kFinal = {"won", "lost", "sold_out", "cancelled", "rejected"};
  return status.is_string() && kFinal.contains(status.get<std::string>());
}

// A decided entry as GET /v1/campaigns/{id}/results lists it.
struct Result {
  uint64_t position = 0;
  std::string outcome;
};

// Every decided entry of a campaign, by user, through every page.
std::map<std::string, Result> Results(httplib::Client& c, const std::string& campaign) {
  std::map<std::string, Result> out;
  std::string cursor = "0";
  for (int pages = 0; pages < 10'000; ++pages) {
    auto r = c.Get("/v1/campaigns/" + campaign + "/results?limit=1000&cursor=" + cursor);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    if (!r || r->status != 200) break;
    json page = Body(r);
    for (const json& item : page["items"]) {
      out[item["user"].get<std::string>()] = {item["position"].get<uint64_t>(),
                                              item["outcome"].get<std::string>()};
    }
    if (!page.contains("next_cursor")) break;
    cursor = std::to_string(page["next_cursor"].get<uint64_t>());
  }
  return out;
}

// GET entries/me for each user (null where it did not answer 200).
std::map<std::string, json> Entries(httplib::Client& c, const std::string& campaign,
                                    const std::vector<std::string>& users) {
  std::map<std::string, json> out;
  for (const std::string& user : users) {
    auto r = c.Get("/v1/campaigns/" + campaign + "/entries/me", Auth(Token(user)));
    out[user] = r && r->status == 200 ? Body(r) : json();
  }
  return out;
}

// --- the live channel, client side -----------------------------------------

// The text/event-stream format (WHATWG HTML, "Server-sent events"): lines of
// `field: value` ended by LF, CRLF or CR; a blank line ends a message; a line
// starting with ':' is a comment.
class SseParser {
 public:
  struct Message {
    std::string event = "message";
    std::optional<std::string> id;
    std::string data;
  };
  // Feeds bytes; returns the messages they completed.
  std::vector<Message> Feed(std::string_view bytes) {
    std::vector<Message> out;
    for (char ch : bytes) {
      if (ch == '\n' && after_cr_) {
        after_cr_ = false;
        continue;
      }
      after_cr_ = ch == '\r';
      if (ch == '\n' || ch == '\r') {
        Line(&out);
        line_.clear();
      } else {
        line_.push_back(ch);
      }
    }
    return out;
  }
  int comments() const { return comments_; }

 private:
  void Line(std::vector<Message>* out) {
    if (line_.empty()) {
      if (has_data_) {
        cur_.data.pop_back();  // the last data line's '\n'
        out->push_back(std::move(cur_));
      }
      cur_ = Message{};
      has_data_ = false;
      return;
    }
    if (line_[0] == ':') {
      ++comments_;
      return;
    }
    const size_t colon = line_.find(':');
    const std::string field = line_.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line_.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "data") {
      cur_.data += value + "\n";
      has_data_ = true;
    } else if (field == "event") {
      cur_.event = value;
    } else if (field == "id") {
      cur_.id = value;
    }
  }

  std::string line_;
  bool after_cr_ = false;
  Message cur_;
  bool has_data_ = false;
  int comments_ = 0;
};

// One message of the live channel as a watcher received it.
struct LiveMessage {
  std::optional<std::string> raw_id;
  std::optional<uint64_t> id;  // raw_id as a number, if it is one
  std::string event;
  json data;
  std::string raw;  // the data as sent
  Clock::time_point at;
};

// What one connection saw.
struct Watch {
  std::string user;
  int enter_status = 0;  // POST entries, when the watcher entered on its connection
  int status = 0;        // the stream's HTTP status (101: WebSocket upgraded)
  std::string content_type;
  std::string body;            // a refused stream's body, or a plain call's answer
  Clock::time_point opened{};  // the stream's request was sent
  Clock::time_point finished{};
  std::vector<LiveMessage> messages;
  std::vector<std::string> protocol_errors;  // frames or events not in the spec's shape
  int comments = 0;
  bool ended_by_server = false;    // SSE: the response ended; WebSocket: a close frame
  int close_code = -1;             // WebSocket: the server's close code
  bool dropped_by_client = false;  // the test disconnected on purpose
  std::string failure;             // transport failure, empty if none
  bool done = false;
};

class Fleet;

// One connection, run on its Fleet's event loop; `watch` may be read once the
// fleet is joined.
class Watcher {
 public:
  virtual ~Watcher() = default;
  virtual void Start() = 0;
  virtual void Drop() = 0;  // closes the connection (on the loop's thread)
  Watch watch;

 protected:
  explicit Watcher(Fleet* fleet) : fleet_(fleet) {}
  tcp::endpoint Endpoint() const;
  void Got(std::optional<std::string> id, std::string event, json data, std::string raw);
  void Fail(const std::string& what, beast::error_code ec = {});
  void Finish();
  Fleet* const fleet_;
};

// Many connections on one event loop thread, with a deadline after which the
// ones still open are dropped.
class Fleet {
 public:
  explicit Fleet(int port) : port_(port), deadline_(ioc_) {}
  ~Fleet() {
    if (thread_.joinable()) {
      net::post(ioc_, [this] {
        for (auto& w : watchers_) {
          if (!w->watch.done) w->Drop();
        }
      });
      thread_.join();
    }
  }
  net::io_context& ioc() { return ioc_; }
  int port() const { return port_; }

  template <class W, class... Args>
  W* Add(Args&&... args) {
    watchers_.push_back(std::make_unique<W>(this, std::forward<Args>(args)...));
    return static_cast<W*>(watchers_.back().get());
  }
  const std::vector<std::unique_ptr<Watcher>>& watchers() const { return watchers_; }

  // Starts every connection at once on a new loop thread.
  void Run(std::chrono::seconds limit) {
    deadline_.expires_after(limit);
    deadline_.async_wait([this](beast::error_code ec) {
      if (ec) return;
      deadline_hit_ = true;
      for (auto& w : watchers_) {
        if (!w->watch.done) w->Drop();
      }
    });
    for (auto& w : watchers_) net::post(ioc_, [w = w.get()] { w->Start(); });
    if (watchers_.empty()) deadline_.cancel();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  // Waits until `n` connections have a first message or ended.
  bool WaitSettled(size_t n, Clock::duration limit) const {
    for (auto end = Clock::now() + limit; Clock::now() < end;) {
      if (settled_ >= n) return true;
      std::this_thread::sleep_for(5ms);
    }
    return settled_ >= n;
  }
  size_t settled() const { return settled_; }
  size_t done() const { return done_; }
  bool deadline_hit() const { return deadline_hit_; }

  void OnSettled() { ++settled_; }
  void OnDone() {
    if (++done_ < watchers_.size()) return;
    // All ended: a failed WebSocket handshake leaves its stream's own timer
    // pending; nothing is left to wait for.
    deadline_.cancel();
    ioc_.stop();
  }

 private:
  const int port_;
  net::io_context ioc_;
  net::steady_timer deadline_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  std::thread thread_;
  std::atomic<size_t> settled_{0}, done_{0};
  std::atomic<bool> deadline_hit_{false};
};

tcp::endpoint Watcher::Endpoint() const {
  return tcp::endpoint(net::ip::address_v4::loopback(), static_cast<uint16_t>(fleet_->port()));
}

void Watcher::Got(std::optional<std::string> id, std::string event, json data, std::string raw) {
  LiveMessage m;
  m.at = Clock::now();
  if (id) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(id->data(), id->data() + id->size(), v);
    if (ec == std::errc() && end == id->data() + id->size()) m.id = v;
  }
  m.raw_id = std::move(id);
  m.event = std::move(event);
  m.data = std::move(data);
  m.raw = std::move(raw);
  watch.messages.push_back(std::move(m));
  if (watch.messages.size() == 1) fleet_->OnSettled();
}

void Watcher::Fail(const std::string& what, beast::error_code ec) {
  if (watch.done) return;
  watch.failure = what + (ec ? ": " + ec.message() : "") +
                  (fleet_->deadline_hit() ? " (dropped at the test's deadline)" : "");
  Finish();
}

void Watcher::Finish() {
  if (watch.done) return;
  watch.done = true;
  watch.finished = Clock::now();
  Drop();
  if (watch.messages.empty()) fleet_->OnSettled();
  fleet_->OnDone();
}

http::request<http::string_body> Request(http::verb verb, const std::string& target,
                                         const std::string& token = "",
                                         const std::string& prefer = "") {
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!prefer.empty()) req.set("Prefer", prefer);
  if (verb == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.content_length(0);
  }
  return req;
}

// An SSE watcher: optionally POSTs its entry on the connection first, then
// GET /v1/campaigns/{id}/events and reads messages until the server ends the
// response.
class SseWatcher : public Watcher {
 public:
  struct Options {
    std::string campaign;
    std::string user;
    std::string token;          // Bearer; empty: no Authorization header
    std::string query;          // appended to the target, e.g. "?ticket=..."
    std::string last_event_id;  // the Last-Event-ID header; empty: none
    bool enter = false;         // POST entries first, on the same connection
    size_t drop_after = 0;      // disconnect after this many messages (0: read to the end)
  };
  SseWatcher(Fleet* fleet, Options o) : Watcher(fleet), o_(std::move(o)), stream_(fleet->ioc()) {
    watch.user = o_.user;
  }
  void Start() override {
    stream_.expires_after(10s);
    stream_.async_connect(Endpoint(), [this](beast::error_code ec) {
      if (ec) return Fail("connect", ec);
      o_.enter ? EnterThenOpen() : Open();
    });
  }
  void Drop() override { stream_.close(); }

 private:
  void EnterThenOpen() {
    req_ = Request(http::verb::post, "/v1/campaigns/" + o_.campaign + "/entries", o_.token);
    http::async_write(stream_, req_, [this](beast::error_code ec, size_t) {
      if (ec) return Fail("POST entries: write", ec);
      http::async_read(stream_, buf_, entered_, [this](beast::error_code ec, size_t) {
        if (ec) return Fail("POST entries: read", ec);
        watch.enter_status = entered_.result_int();
        if (watch.enter_status != 202) {
          watch.body = entered_.body();
          return Fail("POST entries answered " + std::to_string(watch.enter_status));
        }
        if (!entered_.keep_alive()) return Fail("POST entries: the server closed the connection");
        Open();
      });
    });
  }
  void Open() {
    req_ =
        Request(http::verb::get, "/v1/campaigns/" + o_.campaign + "/events" + o_.query, o_.token);
    req_.set(http::field::accept, "text/event-stream");
    if (!o_.last_event_id.empty()) req_.set("Last-Event-ID", o_.last_event_id);
    watch.opened = Clock::now();
    stream_.expires_after(10s);
    http::async_write(stream_, req_, [this](beast::error_code ec, size_t) {
      if (ec) return Fail("GET events: write", ec);
      parser_.emplace();
      parser_->body_limit(boost::none);
      http::async_read_header(stream_, buf_, *parser_, [this](beast::error_code ec, size_t) {
        if (ec) return Fail("GET events: read the header", ec);
        const auto& res = parser_->get();
        watch.status = res.result_int();
        watch.content_type = std::string(res[http::field::content_type]);
        if (watch.status != 200) {
          http::async_read(stream_, buf_, *parser_, [this](beast::error_code, size_t) {
            watch.body = parser_->get().body();
            Finish();
          });
          return;
        }
        Read();
      });
    });
  }
  void Read() {
    stream_.expires_after(20s);  // pings come every 15 s
    http::async_read_some(stream_, buf_, *parser_, [this](beast::error_code ec, size_t) {
      Consume();
      if (watch.done) return;
      if (ec == http::error::partial_message)
        return Fail("the connection closed inside the response (no last chunk)", ec);
      if (ec) return Fail("read", ec);
      if (parser_->is_done()) {
        watch.ended_by_server = true;
        return Finish();
      }
      Read();
    });
  }
  void Consume() {
    std::string& body = parser_->get().body();
    for (SseParser::Message& m : sse_.Feed(body)) {
      json data = json::parse(m.data, nullptr, false);
      if (data.is_discarded()) watch.protocol_errors.push_back("data is not JSON: " + m.data);
      Got(std::move(m.id), std::move(m.event), std::move(data), std::move(m.data));
    }
    body.clear();
    watch.comments = sse_.comments();
    if (o_.drop_after > 0 && watch.messages.size() >= o_.drop_after && !watch.done) {
      watch.dropped_by_client = true;
      Finish();
    }
  }

  Options o_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> entered_;
  std::optional<http::response_parser<http::string_body>> parser_;
  SseParser sse_;
};

// A WebSocket watcher on GET /v1/campaigns/{id}/live.
class WsWatcher : public Watcher {
 public:
  struct Options {
    std::string campaign;
    std::string user;
    std::string token;      // Bearer on the handshake; empty: none
    std::string query;      // e.g. "?ticket=..." or "?last_event_id=..."
    size_t drop_after = 0;  // disconnect after this many messages (0: read to the end)
  };
  WsWatcher(Fleet* fleet, Options o) : Watcher(fleet), o_(std::move(o)), ws_(fleet->ioc()) {
    watch.user = o_.user;
  }
  void Start() override {
    beast::get_lowest_layer(ws_).expires_after(10s);
    beast::get_lowest_layer(ws_).async_connect(Endpoint(), [this](beast::error_code ec) {
      if (ec) return Fail("connect", ec);
      beast::get_lowest_layer(ws_).expires_never();  // the websocket stream keeps its own
      auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
      timeouts.handshake_timeout = 10s;
      timeouts.idle_timeout = 20s;
      timeouts.keep_alive_pings = false;
      ws_.set_option(timeouts);
      ws_.set_option(
          websocket::stream_base::decorator([token = o_.token](websocket::request_type& req) {
            if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
          }));
      watch.opened = Clock::now();
      ws_.async_handshake(handshake_, "127.0.0.1:" + std::to_string(fleet_->port()),
                          "/v1/campaigns/" + o_.campaign + "/live" + o_.query,
                          [this](beast::error_code ec) {
                            watch.status = handshake_.result_int();
                            if (ec) {
                              watch.body = handshake_.body();
                              return Fail("handshake", ec);
                            }
                            Read();
                          });
    });
  }
  void Drop() override { beast::get_lowest_layer(ws_).close(); }

 private:
  void Read() {
    ws_.async_read(buf_, [this](beast::error_code ec, size_t) {
      if (ec == websocket::error::closed) {
        watch.ended_by_server = true;
        watch.close_code = ws_.reason().code;
        return Finish();
      }
      if (ec) return Fail("read", ec);
      std::string text = beast::buffers_to_string(buf_.data());
      buf_.consume(buf_.size());
      if (!ws_.got_text()) watch.protocol_errors.push_back("a binary frame");
      json frame = json::parse(text, nullptr, false);
      if (!frame.is_object() || !frame.contains("data")) {
        watch.protocol_errors.push_back("a frame that is not {event,id,data}: " + text);
        frame = json::object();
      }
      std::optional<std::string> id;
      if (frame.contains("id") && frame["id"].is_string()) {
        id = frame["id"].get<std::string>();
      } else if (frame.contains("id")) {
        watch.protocol_errors.push_back("an id that is not a string: " + text);
        id = frame["id"].dump();
      }
      std::string event = frame.contains("event") && frame["event"].is_string()
                              ? frame["event"].get<std::string>()
                              : "";
      json data = frame.contains("data") ? frame["data"] : json();
      std::string raw = data.dump();
      Got(std::move(id), std::move(event), std::move(data), std::move(raw));
      if (o_.drop_after > 0 && watch.messages.size() >= o_.drop_after) {
        watch.dropped_by_client = true;
        return Finish();
      }
      Read();
    });
  }

  Options o_;
  websocket::stream<beast::tcp_stream> ws_;
  websocket::response_type handshake_;
  beast::flat_buffer buf_;
};

// One request on its own connection: `watch.status`, `watch.body`, and the
// time from `opened` (request sent) to `finished`.
class Call : public Watcher {
 public:
  Call(Fleet* fleet, http::request<http::string_body> req)
      : Watcher(fleet), req_(std::move(req)), stream_(fleet->ioc()) {}
  void Start() override {
    stream_.expires_after(30s);
    stream_.async_connect(Endpoint(), [this](beast::error_code ec) {
      if (ec) return Fail("connect", ec);
      watch.opened = Clock::now();
      http::async_write(stream_, req_, [this](beast::error_code ec, size_t) {
        if (ec) return Fail("write", ec);
        http::async_read(stream_, buf_, res_, [this](beast::error_code ec, size_t) {
          if (ec) return Fail("read", ec);
          watch.status = res_.result_int();
          watch.body = res_.body();
          Finish();
        });
      });
    });
  }
  void Drop() override { stream_.close(); }

 private:
  http::request<http::string_body> req_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
  http::response<http::string_body> res_;
};

// --- checks ----------------------------------------------------------------

struct Expectations {
  Expectations(std::string c, bool ws = false) : campaign(std::move(c)), websocket(ws) {}
  std::string campaign;
  bool websocket;
  Clock::duration first_within = 2s;
};

// What is wrong with one watcher's view of its entry; empty if nothing.
// `results` and `entries` are the API's answers once everything is decided.
// The final message of `w` against the results and entries/me.
void CheckFinal(const Watch& w, const json& final_entry, std::optional<uint64_t> position,
                const std::map<std::string, Result>& results,
                const std::map<std::string, json>& entries,
                const std::function<void(const std::string&)>& add) {
  const std::string status = final_entry["status"];
  auto r = results.find(w.user);
  if (r == results.end()) {
    add("not in results");
  } else {
    if (r->second.outcome != status) add("final " + status + ", results " + r->second.outcome);
    if (position && r->second.position != *position)
      add("position " + std::to_string(*position) + ", results " +
          std::to_string(r->second.position));
  }
  auto me = entries.find(w.user);
  if (me == entries.end() || !me->second.is_object()) {
    add("entries/me did not answer 200");
  } else {
    if (me->second.value("status", json()) != final_entry["status"])
      add("final " + status + ", entries/me " + me->second.dump());
    if (me->second.value("position", json()) != final_entry.value("position", json()))
      add("final position differs from entries/me " + me->second.dump());
  }
}

std::vector<std::string> Problems(const Watch& w, const Expectations& e,
                                  const std::map<std::string, Result>& results,
                                  const std::map<std::string, json>& entries) {
  std::vector<std::string> p;
  auto add = [&](const std::string& what) { p.push_back(w.user + ": " + what); };
  if (!w.failure.empty()) add("failed: " + w.failure);
  if (w.status != (e.websocket ? 101 : 200))
    add("stream status " + std::to_string(w.status) + " " + w.body);
  if (!e.websocket && w.status == 200 && w.content_type.rfind("text/event-stream", 0) != 0)
    add("Content-Type '" + w.content_type + "'");
  for (const std::string& err : w.protocol_errors) add(err);
  if (w.messages.empty()) {
    add("no message at all");
    return p;
  }
  if (w.messages[0].at - w.opened > e.first_within)
    add("first message after " + std::to_string(Seconds(w.messages[0].at - w.opened)) + " s");
  std::optional<uint64_t> id, position, serving, distance, ahead;
  for (size_t i = 0; i < w.messages.size(); ++i) {
    const LiveMessage& m = w.messages[i];
    const std::string at =
        "message " + std::to_string(i) + " id " + m.raw_id.value_or("(none)") + " " + m.raw + ": ";
    if (m.event != "status") add(at + "event '" + m.event + "'");
    if (!m.id) {
      add(at + "id '" + m.raw_id.value_or("(none)") + "' is not a sequence number");
    } else {
      if (id && *m.id < *id)
        add(at + "id " + std::to_string(*m.id) + " after " + std::to_string(*id));
      id = m.id;
    }
    const json& d = m.data;
    if (!d.is_object() || !d.contains("status")) {
      add(at + "not an entry");
      continue;
    }
    if (d.value("user", "") != w.user) add(at + "another user");
    if (d.value("campaign", "") != e.campaign) add(at + "another campaign");
    auto number = [&](const char* key) -> std::optional<uint64_t> {
      if (!d.contains(key)) return std::nullopt;
      if (!d[key].is_number_integer() || d[key].get<int64_t>() < 0) {
        add(at + key + " is not a count");
        return std::nullopt;
      }
      return d[key].get<uint64_t>();
    };
    if (auto v = number("position")) {
      if (position && *v != *position) add(at + "position changed");
      position = v;
    } else {
      add(at + "no position");
    }
    if (auto v = number("serving")) {
      if (serving && *v < *serving) add(at + "serving went back");
      serving = v;
    }
    if (auto v = number("queue_distance")) {
      if (distance && *v > *distance) add(at + "queue_distance grew");
      distance = v;
    }
    if (auto v = number("people_ahead")) {
      if (ahead && *v > *ahead) add(at + "people_ahead grew");
      ahead = v;
    }
    const bool last = i + 1 == w.messages.size();
    if (d["status"] == "queued") {
      if (!d.contains("queue_distance") || !d.contains("people_ahead"))
        add(at + "queued without queue_distance/people_ahead");
    } else if (!IsFinal(d["status"])) {
      add(at + "status " + d["status"].dump());
    }
    if (IsFinal(d["status"]) && !last) add(at + "a message after the final status");
  }
  const json& final_entry = w.messages.back().data;
  if (!final_entry.is_object() || !IsFinal(final_entry.value("status", json())))
    add("the last message is not a final status: " + w.messages.back().raw);
  else
    CheckFinal(w, final_entry, position, results, entries, add);
  if (!w.ended_by_server) add("the server did not end the stream");
  if (e.websocket && w.ended_by_server && w.close_code != 1000)
    add("close code " + std::to_string(w.close_code));
  return p;
}

std::string FirstProblems(const std::vector<std::string>& all, size_t n = 25) {
  std::ostringstream out;
  out << all.size() << " problems";
  for (size_t i = 0; i < all.size() && i < n; ++i) out << "\n  " << all[i];
  return out.str();
}

struct Stats {
  size_t messages = 0, max_messages = 0, min_messages = SIZE_MAX;
  double first_max_s = 0;
};
Stats StatsOf(const Fleet& f) {
  Stats s;
  for (const auto& w : f.watchers()) {
    const Watch& v = w->watch;
    s.messages += v.messages.size();
    s.max_messages = std::max(s.max_messages, v.messages.size());
    s.min_messages = std::min(s.min_messages, v.messages.size());
    if (!v.messages.empty())
      s.first_max_s = std::max(s.first_max_s, Seconds(v.messages[0].at - v.opened));
  }
  return s;
}

const std::vector<std::string> kArgs = {"--user-rate", "0", "--tick-ms", "50"};

// --- the checks themselves, without a server --------------------------------

TEST(LiveChecks, SseParserFollowsTheFormatWhereverTheBytesAreCut) {
  const std::string stream =
      "retry: 2000\n\nid: 5\nevent: status\ndata: {\"a\":1}\n\n: ping\n\n"
      "id: 6\r\nevent: status\r\ndata: x\r\ndata:y\r\n\r\nid:7\rdata: z\r\r";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser p;
    auto got = p.Feed(std::string_view(stream).substr(0, cut));
    auto rest = p.Feed(std::string_view(stream).substr(cut));
    got.insert(got.end(), rest.begin(), rest.end());
    ASSERT_EQ(got.size(), 3u) << "cut at " << cut;
    EXPECT_EQ(got[0].id, "5");
    EXPECT_EQ(got[0].event, "status");
    EXPECT_EQ(got[0].data, "{\"a\":1}");
    EXPECT_EQ(got[1].id, "6");
    EXPECT_EQ(got[1].data, "x\ny");
    EXPECT_EQ(got[2].id, "7");
    EXPECT_EQ(got[2].event, "message");
    EXPECT_EQ(got[2].data, "z");
    EXPECT_EQ(p.comments(), 1);
  }
}

TEST(LiveChecks, ProblemsFindsEveryBrokenPromise) {
  Watch good;
  good.user = "u";
  good.status = 200;
  good.content_type = "text/event-stream";
  good.opened = Clock::now();
  good.ended_by_server = true;
  auto message = [&](uint64_t id, json data) {
    LiveMessage m;
    m.raw_id = std::to_string(id);
    m.id = id;
    m.event = "status";
    data["campaign"] = "c";
    data["user"] = "u";
    m.raw = data.dump();
    m.data = std::move(data);
    m.at = good.opened + 10ms;
    return m;
  };
  good.messages = {
      message(10, {{"status", "queued"},
                   {"position", 3},
                   {"serving", 0},
                   {"queue_distance", 3},
                   {"people_ahead", 2}}),
      message(12, {{"status", "queued"},
                   {"position", 3},
                   {"serving", 1},
                   {"queue_distance", 2},
                   {"people_ahead", 1}}),
      message(15, {{"status", "won"}, {"position", 3}, {"serving", 3}}),
  };
  const std::map<std::string, Result> results = {{"u", {3, "won"}}};
  const std::map<std::string, json> entries = {{"u", {{"status", "won"}, {"position", 3}}}};
  const Expectations e("c");
  EXPECT_TRUE(Problems(good, e, results, entries).empty())
      << FirstProblems(Problems(good, e, results, entries));
  std::vector<std::pair<std::string, std::function<void(Watch&)>>> breaks = {
      {"id goes back", [](Watch& w) { w.messages[1].id = 9; }},
      {"no id", [](Watch& w) { w.messages[1].id.reset(); }},
      {"serving goes back", [](Watch& w) { w.messages[2].data["serving"] = 0; }},
      {"people_ahead grows", [](Watch& w) { w.messages[1].data["people_ahead"] = 5; }},
      {"queue_distance grows", [](Watch& w) { w.messages[1].data["queue_distance"] = 5; }},
      {"position moves", [](Watch& w) { w.messages[1].data["position"] = 4; }},
      {"no final", [](Watch& w) { w.messages.pop_back(); }},
      {"after the final", [&](Watch& w) { w.messages.push_back(w.messages.back()); }},
      {"results differ", [](Watch& w) { w.messages[2].data["status"] = "lost"; }},
      {"another user", [](Watch& w) { w.messages[0].data["user"] = "v"; }},
      {"late first", [](Watch& w) { w.messages[0].at = w.opened + 3s; }},
      {"not ended", [](Watch& w) { w.ended_by_server = false; }},
      {"failed", [](Watch& w) { w.failure = "read: reset"; }},
      {"not SSE", [](Watch& w) { w.content_type = "application/json"; }},
      {"other event", [](Watch& w) { w.messages[0].event = "message"; }},
  };
  for (auto& [what, breakit] : breaks) {
    Watch w = good;
    breakit(w);
    EXPECT_FALSE(Problems(w, e, results, entries).empty()) << what;
  }
  Watch ws = good;
  ws.status = 101;
  ws.close_code = 1000;
  EXPECT_TRUE(Problems(ws, Expectations("c", true), results, entries).empty());
  ws.close_code = 1011;
  EXPECT_FALSE(Problems(ws, Expectations("c", true), results, entries).empty());
}

// --- the tests -------------------------------------------------------------

// 1,000 users enter and watch over SSE at once (admission paused until every
// stream has its first message, so all 1,000 are open together); then the
// queue moves at 200/s and each stream must follow its entry to the outcome
// the API reports.
TEST(Live, ThousandSseWatchersFollowTheirEntryToItsOutcome) {
  TempDir dir;
  std::vector<std::string> args = kArgs;
  args.insert(args.end(), {"--streams-per-address-max", "5000"});
  TicketdProcess d(dir.path(), args);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  const std::string id = "thousand";
  CreateCampaign(*c,
                 {{"id", id}, {"stock", 300}, {"win_bps", 5000}, {"admission_rate_per_s", 200}});
  AdminAction(*c, id, "pause");
  const size_t kWatchers = 1000;
  std::vector<std::string> users;
  Fleet fleet(d.port());
  for (size_t i = 0; i < kWatchers; ++i) {
    users.push_back("w" + std::to_string(i));
    SseWatcher::Options o;
    o.campaign = id;
    o.user = users.back();
    o.token = Token(o.user);
    o.enter = true;
    fleet.Add<SseWatcher>(std::move(o));
  }
  const auto t0 = Clock::now();
  fleet.Run(60s);
  EXPECT_TRUE(fleet.WaitSettled(kWatchers, 20s))
      << fleet.settled() << " of " << kWatchers << " watchers have a first message";
  const auto opened = Clock::now();
  EXPECT_EQ(fleet.done(), 0u) << "streams ended while admission was paused";
  AdminAction(*c, id, "resume");
  fleet.Join();
  const auto drained = Clock::now();
  EXPECT_FALSE(fleet.deadline_hit());

  json campaign = Body(c->Get("/v1/campaigns/" + id));
  EXPECT_EQ(campaign["entries"], kWatchers);
  EXPECT_EQ(campaign["drawn"], kWatchers);
  const auto results = Results(*c, id);
  EXPECT_EQ(results.size(), kWatchers);
  const auto entries = Entries(*c, id, users);
  std::vector<std::string> problems;
  std::set<uint64_t> positions;
  size_t paused_first = 0;
  for (const auto& w : fleet.watchers()) {
    for (auto& p : Problems(w->watch, {id}, results, entries)) problems.push_back(std::move(p));
    if (!w->watch.messages.empty()) {
      const json& first = w->watch.messages[0].data;
      positions.insert(first.value("position", uint64_t{0}));
      if (first.value("status", "") == "queued" && first.value("admission_paused", false))
        ++paused_first;
    }
  }
  EXPECT_TRUE(problems.empty()) << FirstProblems(problems);
  EXPECT_EQ(positions.size(), kWatchers);
  EXPECT_EQ(*positions.begin(), 1u);
  EXPECT_EQ(*positions.rbegin(), kWatchers);
  // The first message is the current state: queued, admission paused.
  EXPECT_EQ(paused_first, kWatchers);
  Stats s = StatsOf(fleet);
  std::cout << "[ live ] " << kWatchers << " SSE watchers: all open after " << Seconds(opened - t0)
            << " s, drained " << Seconds(drained - opened) << " s after resume; " << s.messages
            << " messages (" << s.min_messages << ".." << s.max_messages
            << " a stream), slowest first message " << s.first_max_s << " s\n";
}

// The same over WebSocket: frames {"event":"status","id":"<seq>","data":...},
// a final status equal to the API's, then a close (1000) from the server.
TEST(Live, WebSocketWatchersFollowTheirEntryAndAreClosedCleanly) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  const std::string id = "ws";
  CreateCampaign(*c, {{"id", id}, {"stock", 20}, {"win_bps", 5000}, {"admission_rate_per_s", 25}});
  AdminAction(*c, id, "pause");
  const size_t kWatchers = 50;
  std::vector<std::string> users;
  Fleet fleet(d.port());
  for (size_t i = 0; i < kWatchers; ++i) {
    users.push_back("ws" + std::to_string(i));
    Enter(*c, id, users.back());
    WsWatcher::Options o;
    o.campaign = id;
    o.user = users.back();
    o.token = Token(o.user);
    fleet.Add<WsWatcher>(std::move(o));
  }
  fleet.Run(30s);
  EXPECT_TRUE(fleet.WaitSettled(kWatchers, 10s))
      << fleet.settled() << " of " << kWatchers << " watchers have a first frame";
  EXPECT_EQ(fleet.done(), 0u) << "sockets ended while admission was paused";
  AdminAction(*c, id, "resume");
  fleet.Join();
  EXPECT_FALSE(fleet.deadline_hit());
  const auto results = Results(*c, id);
  EXPECT_EQ(results.size(), kWatchers);
  const auto entries = Entries(*c, id, users);
  std::vector<std::string> problems;
  Expectations e(id, /*ws=*/true);
  for (const auto& w : fleet.watchers()) {
    for (auto& p : Problems(w->watch, e, results, entries)) problems.push_back(std::move(p));
  }
  EXPECT_TRUE(problems.empty()) << FirstProblems(problems);
  Stats s = StatsOf(fleet);
  std::cout << "[ live ] " << kWatchers << " WebSocket watchers: " << s.messages << " frames ("
            << s.min_messages << ".." << s.max_messages << " a socket)\n";
}

// A watcher reads a few messages, disconnects, and comes back a second later
// with the last id it saw (SSE: the Last-Event-ID header, or ?last_event_id=;
// WebSocket: ?last_event_id=): nothing older than that comes back, and it
// still reaches its outcome.
TEST(Live, LastEventIdResumesWithoutGoingBack) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  const std::string id = "resume";
  CreateCampaign(*c, {{"id", id}, {"stock", 100}, {"win_bps", 10000}, {"admission_rate_per_s", 5}});
  std::vector<std::string> users;
  for (int i = 0; i < 30; ++i) {
    users.push_back("r" + std::to_string(i));
    Enter(*c, id, users.back());
  }
  // Positions 25..27, served about 5 s from now.
  enum How { kHeader, kQuery, kWebSocket };
  const std::vector<std::pair<std::string, How>> watchers = {
      {"r24", kHeader}, {"r25", kQuery}, {"r26", kWebSocket}};
  const char* kHow[] = {"SSE Last-Event-ID", "SSE ?last_event_id=", "WebSocket ?last_event_id="};
  auto add = [&](Fleet& f, const std::string& user, How how, const std::string& resume_from) {
    if (how == kWebSocket) {
      WsWatcher::Options o;
      o.campaign = id;
      o.user = user;
      o.token = Token(user);
      if (resume_from.empty()) o.drop_after = 3;
      if (!resume_from.empty()) o.query = "?last_event_id=" + resume_from;
      f.Add<WsWatcher>(std::move(o));
      return;
    }
    SseWatcher::Options o;
    o.campaign = id;
    o.user = user;
    o.token = Token(user);
    if (resume_from.empty()) o.drop_after = 3;
    if (!resume_from.empty() && how == kHeader) o.last_event_id = resume_from;
    if (!resume_from.empty() && how == kQuery) o.query = "?last_event_id=" + resume_from;
    f.Add<SseWatcher>(std::move(o));
  };
  Fleet before(d.port());
  for (const auto& [user, how] : watchers) add(before, user, how, "");
  before.Run(20s);
  before.Join();
  std::this_thread::sleep_for(1s);  // the queue moves on meanwhile
  Fleet after(d.port());
  for (size_t i = 0; i < watchers.size(); ++i) {
    const Watch& w = before.watchers()[i]->watch;
    ASSERT_TRUE(w.dropped_by_client) << w.user << ": " << w.failure;
    ASSERT_EQ(w.messages.size(), 3u);
    ASSERT_TRUE(w.messages.back().raw_id) << w.user << ": no id to resume from";
    ASSERT_EQ(w.messages.back().data.value("status", ""), "queued")
        << w.user << ": decided too early for this test " << w.messages.back().raw;
    add(after, w.user, watchers[i].second, *w.messages.back().raw_id);
  }
  after.Run(30s);
  after.Join();
  const auto results = Results(*c, id);
  const auto entries = Entries(*c, id, users);
  std::vector<std::string> problems;
  for (size_t i = 0; i < watchers.size(); ++i) {
    const Watch& w1 = before.watchers()[i]->watch;
    const Watch& w2 = after.watchers()[i]->watch;
    const char* how = kHow[watchers[i].second];
    ASSERT_FALSE(w2.messages.empty())
        << w2.user << " (" << how << "): " << w2.failure << " " << w2.status << " " << w2.body;
    const LiveMessage& last = w1.messages.back();
    const LiveMessage& next = w2.messages.front();
    EXPECT_TRUE(last.id && next.id && *next.id >= *last.id)
        << w2.user << " (" << how << "): resumed from " << last.raw_id.value_or("?")
        << ", first id " << next.raw_id.value_or("(none)");
    EXPECT_GE(next.data.value("serving", uint64_t{0}), last.data.value("serving", uint64_t{0}))
        << w2.user << " (" << how << "): " << last.raw << " then " << next.raw;
    std::cout << "[ live ] " << w2.user << " resumed (" << how << ") from id "
              << last.raw_id.value_or("?") << " serving " << last.data.value("serving", 0)
              << "; first after: id " << next.raw_id.value_or("?") << " serving "
              << next.data.value("serving", 0) << "\n";
    // Both connections together are one consistent view.
    Watch joined = w2;
    joined.opened = w1.opened;
    joined.messages = w1.messages;
    joined.messages.insert(joined.messages.end(), w2.messages.begin(), w2.messages.end());
    joined.protocol_errors.insert(joined.protocol_errors.end(), w1.protocol_errors.begin(),
                                  w1.protocol_errors.end());
    for (auto& p :
         Problems(joined, Expectations(id, watchers[i].second == kWebSocket), results, entries))
      problems.push_back(std::string(how) + " " + p);
  }
  EXPECT_TRUE(problems.empty()) << FirstProblems(problems);
}

// Browsers cannot set Authorization on EventSource/WebSocket: a stream ticket
// (POST stream-tickets, Bearer) opens that user's stream on that campaign
// only, for --stream-ticket-ttl-s, and nothing else.
TEST(Live, StreamTicketsOpenOnlyThatUsersStreams) {
  TempDir dir;
  std::vector<std::string> args = kArgs;
  args.insert(args.end(), {"--stream-ticket-ttl-s", "5"});
  TicketdProcess d(dir.path(), args);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  CreateCampaign(*c, {{"id", "b"}, {"stock", 10}, {"win_bps", 10000}});
  CreateCampaign(*c, {{"id", "other"}, {"stock", 10}, {"win_bps", 10000}});
  auto r =
      c->Post("/v1/campaigns/b/entries", Auth(Token("browser"), "wait=5"), "", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  ASSERT_EQ(Body(r)["status"], "won") << r->body;

  const int64_t before_ms = UnixMs();
  r = c->Post("/v1/campaigns/b/stream-tickets", Auth(Token("browser")), "", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  json t = Body(r);
  ASSERT_TRUE(t.contains("ticket") && t["ticket"].is_string()) << r->body;
  const std::string ticket = t["ticket"];
  ASSERT_FALSE(ticket.empty());
  ASSERT_TRUE(t.contains("expires_at_ms") && t["expires_at_ms"].is_number()) << r->body;
  const int64_t expires = t["expires_at_ms"].get<int64_t>();
  EXPECT_GT(expires, before_ms);
  EXPECT_LE(expires, UnixMs() + 5000 + 1000) << "ttl is 5 s";
  EXPECT_NE(t["links"].value("events", "").find("/v1/campaigns/b/events"), std::string::npos)
      << r->body;
  EXPECT_NE(t["links"].value("live", "").find("/v1/campaigns/b/live"), std::string::npos)
      << r->body;

  // The ticket alone (no Authorization) streams this user's entry, SSE and WebSocket.
  {
    Fleet fleet(d.port());
    SseWatcher::Options o;
    o.campaign = "b";
    o.user = "browser";
    o.query = "?ticket=" + ticket;
    fleet.Add<SseWatcher>(std::move(o));
    WsWatcher::Options ws;
    ws.campaign = "b";
    ws.user = "browser";
    ws.query = "?ticket=" + ticket;
    fleet.Add<WsWatcher>(std::move(ws));
    fleet.Run(15s);
    fleet.Join();
    const auto results = Results(*c, "b");
    const auto entries = Entries(*c, "b", {"browser"});
    std::vector<std::string> problems;
    for (auto& p : Problems(fleet.watchers()[0]->watch, {"b"}, results, entries))
      problems.push_back("SSE " + p);
    for (auto& p : Problems(fleet.watchers()[1]->watch, {"b", true}, results, entries))
      problems.push_back("WebSocket " + p);
    EXPECT_TRUE(problems.empty()) << FirstProblems(problems);
  }

  // Refused: 401 with a JSON error.
  auto refused = [&](const std::string& what, const httplib::Result& res) {
    ASSERT_TRUE(res) << what;
    EXPECT_EQ(res->status, 401) << what << ": " << res->body;
    json b = json::parse(res->body, nullptr, false);
    EXPECT_TRUE(b.is_object() && b.contains("error") && b["error"].contains("code") &&
                b["error"]["code"].is_string())
        << what << ": " << res->body;
  };
  const httplib::Headers sse = {{"Accept", "text/event-stream"}};
  refused("no credentials", c->Get("/v1/campaigns/b/events", sse));
  refused("a made-up ticket", c->Get("/v1/campaigns/b/events?ticket=not-a-ticket", sse));
  std::string tampered = ticket;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  refused("a tampered ticket", c->Get("/v1/campaigns/b/events?ticket=" + tampered, sse));
  refused("another campaign's ticket", c->Get("/v1/campaigns/other/events?ticket=" + ticket, sse));
  refused("a ticket as Bearer on POST entries",
          c->Post("/v1/campaigns/b/entries", Auth(ticket), "", "application/json"));
  refused("a ticket as Bearer on POST entries of another user's campaign",
          c->Post("/v1/campaigns/other/entries", Auth(ticket), "", "application/json"));
  refused("a ticket as Bearer on GET entries/me",
          c->Get("/v1/campaigns/b/entries/me", Auth(ticket)));
  {
    Fleet fleet(d.port());
    WsWatcher::Options ws;
    ws.campaign = "other";
    ws.user = "browser";
    ws.query = "?ticket=" + ticket;
    fleet.Add<WsWatcher>(std::move(ws));
    fleet.Run(10s);
    fleet.Join();
    EXPECT_EQ(fleet.watchers()[0]->watch.status, 401)
        << "WebSocket with another campaign's ticket: " << fleet.watchers()[0]->watch.body;
  }
  // Expired.
  std::this_thread::sleep_for(std::chrono::milliseconds(std::max<int64_t>(0, expires - UnixMs())) +
                              1100ms);
  refused("an expired ticket", c->Get("/v1/campaigns/b/events?ticket=" + ticket, sse));
}

// `Prefer: wait=5` on POST entries for a queued user answers when the outcome
// is decided (admission 10/s: about 1 s), not after 5 s; and a hundred such
// waits hold no thread: another connection is served at once meanwhile.
TEST(Live, PreferWaitAnswersAtTheDecisionAndHoldsNoThread) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  const std::string id = "wait";
  CreateCampaign(*c,
                 {{"id", id}, {"stock", 1000}, {"win_bps", 5000}, {"admission_rate_per_s", 10}});
  for (int i = 0; i < 10; ++i) Enter(*c, id, "ahead" + std::to_string(i));
  const std::string target = "/v1/campaigns/" + id + "/entries";
  Fleet waiter(d.port());
  waiter.Add<Call>(Request(http::verb::post, target, Token("patient"), "wait=5"));
  waiter.Run(20s);
  std::this_thread::sleep_for(150ms);  // "patient" is position 11
  const int kBackground = 100;         // more waits, behind it
  Fleet background(d.port());
  for (int i = 0; i < kBackground; ++i) {
    background.Add<Call>(
        Request(http::verb::post, target, Token("bg" + std::to_string(i)), "wait=5"));
  }
  background.Run(20s);
  std::this_thread::sleep_for(200ms);
  std::vector<double> probes;
  std::vector<Clock::time_point> probe_end;
  for (int i = 0; i < 5; ++i) {
    auto fresh = d.Client();  // another connection
    const auto t0 = Clock::now();
    auto r = fresh->Get("/v1/campaigns/" + id);
    probe_end.push_back(Clock::now());
    probes.push_back(Seconds(probe_end.back() - t0));
    EXPECT_TRUE(r && r->status == 200);
    EXPECT_LT(probes.back(), 0.2) << "probe " << i << " took " << probes.back() << " s";
    std::this_thread::sleep_for(100ms);
  }
  waiter.Join();
  background.Join();
  const Watch& w = waiter.watchers()[0]->watch;
  ASSERT_TRUE(w.failure.empty()) << w.failure;
  const double took = Seconds(w.finished - w.opened);
  ASSERT_EQ(w.status, 200) << w.body;
  json body = json::parse(w.body, nullptr, false);
  EXPECT_TRUE(IsFinal(body.value("status", json()))) << w.body;
  EXPECT_EQ(body.value("position", json()), 11) << w.body;
  EXPECT_LT(took, 4.0) << "answered after " << took << " s: " << w.body;
  EXPECT_GT(took, 0.3) << "answered before its turn: " << w.body;
  EXPECT_LT(probe_end.front(), w.finished) << "the probes did not run while it waited";
  auto me = c->Get("/v1/campaigns/" + id + "/entries/me", Auth(Token("patient")));
  ASSERT_TRUE(me);
  EXPECT_EQ(Body(me).value("status", json()), body.value("status", json())) << me->body;
  int answered = 0, decided = 0;
  for (const auto& b : background.watchers()) {
    const Watch& v = b->watch;
    EXPECT_TRUE(v.failure.empty()) << v.failure;
    if (v.status == 200 || v.status == 202) ++answered;
    EXPECT_LT(Seconds(v.finished - v.opened), 6.5) << v.body;
    if (IsFinal(json::parse(v.body, nullptr, false).value("status", json()))) ++decided;
  }
  EXPECT_EQ(answered, kBackground);
  std::cout << "[ live ] Prefer: wait=5 answered after " << took << " s ("
            << body.value("status", "") << "); probes "
            << *std::min_element(probes.begin(), probes.end()) << ".."
            << *std::max_element(probes.begin(), probes.end()) << " s; " << decided << " of "
            << kBackground << " background waits decided\n";
}

// "Fan-out: one per campaign change, coalesced to at most one every
// --live-interval-ms (250)": with the queue moving every 100 ms and the
// default interval, a watcher's messages come about 250 ms apart — never
// closer than the interval, and not much further.
TEST(Live, FanOutIsCoalescedAtTheDocumentedDefaultInterval) {
  TempDir dir;
  TicketdProcess d(dir.path(), kArgs);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  const std::string id = "interval";
  CreateCampaign(*c,
                 {{"id", id}, {"stock", 1000}, {"win_bps", 10000}, {"admission_rate_per_s", 10}});
  AdminAction(*c, id, "pause");
  Fleet fleet(d.port());
  for (int i = 0; i < 40; ++i) {
    const std::string user = "i" + std::to_string(i);
    Enter(*c, id, user);
    if (i < 30) continue;  // positions 31..40 watch: about 3 s of a moving queue
    SseWatcher::Options o;
    o.campaign = id;
    o.user = user;
    o.token = Token(user);
    fleet.Add<SseWatcher>(std::move(o));
  }
  fleet.Run(30s);
  EXPECT_TRUE(fleet.WaitSettled(10, 5s));
  AdminAction(*c, id, "resume");
  fleet.Join();
  std::vector<double> gaps;
  for (const auto& w : fleet.watchers()) {
    EXPECT_TRUE(w->watch.failure.empty()) << w->watch.user << ": " << w->watch.failure;
    const auto& m = w->watch.messages;
    // From the second message on (the first one is sent on connect).
    for (size_t i = 2; i < m.size(); ++i) gaps.push_back(Seconds(m[i].at - m[i - 1].at));
  }
  ASSERT_GE(gaps.size(), 20u);
  std::sort(gaps.begin(), gaps.end());
  const double median = gaps[gaps.size() / 2];
  std::cout << "[ live ] gaps between messages: min " << gaps.front() << " s, median " << median
            << " s, max " << gaps.back() << " s (" << gaps.size() << " gaps)\n";
  EXPECT_GE(gaps.front(), 0.15) << "not coalesced: the queue moves every 100 ms";
  EXPECT_LE(median, 0.4) << "the default --live-interval-ms is documented as 250";
}

// --live-messages-per-s-max bounds the messages of all watchers together: 60
// watchers at 100 a second get one about every 0.6 s, not every 250 ms, while
// the queue moves every 100 ms (api/LIMITS.md).
TEST(Live, AWholeCrowdGetsAtMostLiveMessagesPerSMax) {
  TempDir dir;
  std::vector<std::string> args = kArgs;
  args.insert(args.end(), {"--live-messages-per-s-max", "100"});
  TicketdProcess d(dir.path(), args);
  ASSERT_TRUE(d.ok());
  auto c = d.Client();
  const std::string id = "crowd";
  CreateCampaign(*c,
                 {{"id", id}, {"stock", 1000}, {"win_bps", 10000}, {"admission_rate_per_s", 10}});
  AdminAction(*c, id, "pause");
  Fleet fleet(d.port());
  for (int i = 0; i < 100; ++i) {
    const std::string user = "m" + std::to_string(i);
    Enter(*c, id, user);
    if (i < 40) continue;  // positions 41..100 watch: none is drawn for 4 s
    SseWatcher::Options o;
    o.campaign = id;
    o.user = user;
    o.token = Token(user);
    fleet.Add<SseWatcher>(std::move(o));
  }
  fleet.Run(60s);
  EXPECT_TRUE(fleet.WaitSettled(60, 10s));
  const auto resumed = Clock::now();
  AdminAction(*c, id, "resume");
  fleet.Join();
  // Gaps while all 60 still watch (the first 3.5 s of the moving queue).
  std::vector<double> gaps;
  for (const auto& w : fleet.watchers()) {
    EXPECT_TRUE(w->watch.failure.empty()) << w->watch.user << ": " << w->watch.failure;
    const auto& m = w->watch.messages;
    for (size_t i = 2; i < m.size(); ++i) {
      if (m[i].at - resumed < 3500ms) gaps.push_back(Seconds(m[i].at - m[i - 1].at));
    }
  }
  ASSERT_GE(gaps.size(), 60u);
  std::sort(gaps.begin(), gaps.end());
  std::cout << "[ live ] 60 watchers at 100 messages/s: gaps min " << gaps.front() << " s, median "
            << gaps[gaps.size() / 2] << " s (" << gaps.size() << " gaps)\n";
  EXPECT_GE(gaps.front(), 0.45) << "60 watchers at 100 a second: one message per 0.6 s at most";
  EXPECT_LE(gaps[gaps.size() / 2], 1.0);
}
}  // namespace
}  // namespace tl::testing
