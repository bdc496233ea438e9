// Raw HTTP/1.1 over loopback TCP for the edge tests: a client connection
// with its own read buffer (so pipelined responses and streams can be read
// piece by piece), a response parser, and what the tests need around them
// (many sockets, bind-before-connect source addresses, the ticketd pid).
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tl::testing {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Milliseconds from now until `deadline` (0 if past), for poll().
inline int MsUntil(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms <= 0 ? 0 : static_cast<int>(std::min<int64_t>(ms, 60'000));
}

inline std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool chunked = false;

  // The first header called `name` (any case), or "".
  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (Lower(k) == Lower(name)) return v;
    }
    return "";
  }
  bool Has(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (Lower(k) == Lower(name)) return true;
    }
    return false;
  }
};

// Parses one response at the start of `buf`. Returns 1 with `out` and
// `consumed` set when it is complete, 0 when more bytes are needed, -1 when
// it is not HTTP. `at_eof`: the peer closed (a body without length ends
// there). `head_only`: stop after the header block.
inline int ParseResponse(const std::string& buf, bool at_eof, bool head_only, Response* out,
                         size_t* consumed) {
  const size_t head_end = buf.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (buf.size() >= 5 && buf.compare(0, 5, "HTTP/") != 0) return -1;
    return 0;
  }
  Response r;
  std::istringstream head(buf.substr(0, head_end));
  std::string line;
  std::getline(head, line);
  if (line.compare(0, 5, "HTTP/") != 0 || line.size() < 12) return -1;
  r.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    r.headers.emplace_back(line.substr(0, colon), value);
  }
  size_t p = head_end + 4;
  r.chunked = Lower(r.Header("Transfer-Encoding")).find("chunked") != std::string::npos;
  if (head_only || (r.status >= 100 && r.status < 200) || r.status == 204 || r.status == 304) {
    *out = std::move(r);
    *consumed = p;
    return 1;
  }
  if (r.chunked) {
    for (;;) {
      const size_t eol = buf.find("\r\n", p);
      if (eol == std::string::npos) return 0;
      const size_t size = std::strtoul(buf.c_str() + p, nullptr, 16);
      p = eol + 2;
      if (size == 0) {
        for (;;) {  // trailers, up to an empty line
          const size_t e = buf.find("\r\n", p);
          if (e == std::string::npos) return 0;
          if (e == p) {
            *out = std::move(r);
            *consumed = e + 2;
            return 1;
          }
          p = e + 2;
        }
      }
      if (buf.size() < p + size + 2) return 0;
      r.body.append(buf, p, size);
      p += size + 2;
    }
  }
  if (r.Has("Content-Length")) {
    const size_t n = std::strtoul(r.Header("Content-Length").c_str(), nullptr, 10);
    if (buf.size() < p + n) return 0;
    r.body = buf.substr(p, n);
    *out = std::move(r);
    *consumed = p + n;
    return 1;
  }
  if (!at_eof) return 0;  // the body runs to the close
  r.body = buf.substr(p);
  *out = std::move(r);
  *consumed = buf.size();
  return 1;
}

// One client connection: a non-blocking socket and what it has read.
class Conn {
 public:
  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  Conn(Conn&& o) noexcept { *this = std::move(o); }
  Conn& operator=(Conn&& o) noexcept {
    if (this != &o) {
      Close();
      fd_ = std::exchange(o.fd_, -1);
      buf_ = std::move(o.buf_);
      eof_ = o.eof_;
      err_ = o.err_;
    }
    return *this;
  }
  ~Conn() { Close(); }

  // Connects to 127.0.0.1:port from `source` (any 127.x.y.z: bind before
  // connect). The connect is blocking but bounded by `timeout_ms`.
  static Conn Open(int port, const std::string& source = "127.0.0.1", int timeout_ms = 3000) {
    Conn c;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return c;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &src.sin_addr);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
      close(fd);
      return c;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c.fd_ = fd;
    return c;
  }

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // The peer closed (FIN or RST) or the socket failed.
  bool closed() const { return fd_ < 0 || eof_ || err_ != 0; }
  bool reset() const { return err_ == ECONNRESET; }
  std::string& buffer() { return buf_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  // Sends all of `data` before `deadline`; false if the peer is gone or the
  // time ran out (what could not be sent is dropped).
  bool Send(std::string_view data, Clock::time_point deadline) {
    while (!data.empty()) {
      if (fd_ < 0) return false;
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        err_ = errno;
        return false;
      }
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, MsUntil(deadline)) <= 0) return false;
    }
    return true;
  }
  // Sends what fits now, without waiting; the bytes sent (-1: peer gone).
  ssize_t SendSome(std::string_view data) {
    if (fd_ < 0) return -1;
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    err_ = errno;
    return -1;
  }

  // Reads whatever is there now, without waiting.
  void Drain() {
    char tmp[65536];
    while (fd_ >= 0 && !eof_ && err_ == 0) {
      ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
      } else if (n == 0) {
        eof_ = true;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
      } else if (errno != EINTR) {
        err_ = errno;
      }
    }
  }
  // Waits for more bytes (or the close) until `deadline`; false on timeout.
  bool Fill(Clock::time_point deadline) {
    if (closed()) return false;
    const size_t before = buf_.size();
    for (;;) {
      Drain();
      if (buf_.size() > before || closed()) return true;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, MsUntil(deadline)) <= 0) return false;
    }
  }
  // The next response (only its head with `head_only`); nullopt on
  // timeout, on a close before it is complete, or on garbage.
  std::optional<Response> Read(Clock::time_point deadline, bool head_only = false) {
    for (;;) {
      Response r;
      size_t used = 0;
      const int st = ParseResponse(buf_, closed(), head_only, &r, &used);
      if (st < 0) return std::nullopt;
      if (st > 0) {
        buf_.erase(0, used);
        return r;
      }
      if (closed() || !Fill(deadline)) {
        if (closed() && ParseResponse(buf_, true, head_only, &r, &used) > 0) {
          buf_.erase(0, used);
          return r;
        }
        return std::nullopt;
      }
    }
  }
  // Waits until the peer closes (reading and keeping what it sends);
  // true if it did before `deadline`.
  bool WaitClosed(Clock::time_point deadline) {
    while (!closed()) {
      if (!Fill(deadline) && !closed()) return false;
    }
    return true;
  }

 private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  int err_ = 0;
};

// Waits until any of `conns` is readable (or `ms` pass), then drains those.
inline void PollRead(std::vector<Conn*>& conns, int ms) {
  std::vector<pollfd> fds;
  fds.reserve(conns.size());
  for (Conn* c : conns) fds.push_back({c->closed() ? -1 : c->fd(), POLLIN, 0});
  if (poll(fds.data(), fds.size(), ms) <= 0) return;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents != 0) conns[i]->Drain();
  }
}

// How many of `conns` the server has not closed (reads what they have).
inline int CountOpen(std::vector<Conn>& conns) {
  int open = 0;
  for (Conn& c : conns) {
    c.Drain();
    open += c.closed() ? 0 : 1;
  }
  return open;
}

// The pid of this process's child that listens on `port` (0 if none).
inline pid_t ListenerPid(int port) {
  std::string inode;
  {
    std::ifstream tcp("/proc/net/tcp");
    std::string line;
    std::getline(tcp, line);
    char want[8];
    std::snprintf(want, sizeof want, ":%04X", port);
    while (std::getline(tcp, line)) {
      std::istringstream in(line);
      std::string sl, local, remote, st, queues, tr, retr, uid, timeout, ino;
      in >> sl >> local >> remote >> st >> queues >> tr >> retr >> uid >> timeout >> ino;
      if (st == "0A" && local.size() > 5 && local.substr(local.size() - 5) == want) {
        inode = ino;
        break;
      }
    }
  }
  if (inode.empty()) return 0;
  const std::string target = "socket:[" + inode + "]";
  DIR* proc = opendir("/proc");
  pid_t found = 0;
  for (dirent* e; proc && !found && (e = readdir(proc));) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    const std::string base = std::string("/proc/") + e->d_name;
    std::ifstream stat(base + "/stat");
    std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t paren = all.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream rest(all.substr(paren + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != getpid()) continue;
    DIR* fds = opendir((base + "/fd").c_str());
    for (dirent* f; fds && (f = readdir(fds));) {
      char link[128];
      const std::string p = base + "/fd/" + f->d_name;
      ssize_t n = readlink(p.c_str(), link, sizeof link - 1);
      if (n > 0 && std::string(link, static_cast<size_t>(n)) == target) {
        found = static_cast<pid_t>(std::atoi(e->d_name));
        break;
      }
    }
    if (fds) closedir(fds);
  }
  if (proc) closedir(proc);
  return found;
}

// A "VmRSS" / "VmHWM" line of /proc/<pid>/status, in KiB (-1 if absent).
inline long StatusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

// Lets this process (and the ticketd it starts) open as many files as the
// hard limit allows.
inline void RaiseFileLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace tl::testing
