#pragma once

// HttpServer: a small, real HTTP/1.1 server on 127.0.0.1 for tests that
// exercise network code (CRL and OCSP fetching). The test starts it on an
// ephemeral port; it serves configured routes (status, body, delay, or a
// handler), counts requests per route and answers one request per
// connection (`Connection: close`). Every loop is bounded: the accept loop
// polls its stop flag, reads are bounded in size and time, delays end at
// Stop(), and the server stops by itself after `max_lifetime`.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace trustgate::testing {

class HttpServer {
 public:
  // Request is what a client sent (the path without its query string).
  struct Request {
    std::string method;
    std::string path;
    std::string target;  // path and query, as sent
    std::string body;
    std::map<std::string, std::string> headers;  // names lowercased
  };

  // Response is what a route answers. `delay` is waited before anything
  // is written (a slow or silent server); `location` adds a Location
  // header (redirects).
  struct Response {
    int status = 200;
    std::string body;
    std::chrono::milliseconds delay{0};
    std::string content_type = "application/octet-stream";
    std::string location;
  };

  using Handler = std::function<Response(const Request&)>;

  // kMaxHeaderBytes / kMaxBodyBytes bound what a request may send.
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;
  static constexpr size_t kMaxBodyBytes = 1024 * 1024;
  static constexpr size_t kMaxConnections = 256;

  // HttpServer binds 127.0.0.1 on an ephemeral port and starts serving.
  // On any socket failure it aborts the test binary (a fixture bug).
  explicit HttpServer(
      std::chrono::seconds max_lifetime = std::chrono::seconds(300))
      : deadline_(std::chrono::steady_clock::now() + max_lifetime) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
      Die("socket");
    }
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
        0) {
      Die("bind");
    }
    if (::listen(listen_fd_, 128) != 0) {
      Die("listen");
    }
    socklen_t len = sizeof(addr);
    if (::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) !=
        0) {
      Die("getsockname");
    }
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~HttpServer() { Stop(); }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Stop ends the accept loop, interrupts delays and joins every thread.
  // Idempotent.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (accept_thread_.joinable()) {
      accept_thread_.join();
    }
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      workers.swap(workers_);
    }
    for (std::thread& t : workers) {
      if (t.joinable()) {
        t.join();
      }
    }
    if (listen_fd_ >= 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
    }
  }

  uint16_t port() const { return port_; }

  // Url returns "http://127.0.0.1:<port><path>" (`path` starts with '/').
  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }

  // Serve answers requests whose path equals `path` with `response`.
  void Serve(const std::string& path, Response response) {
    Route(path, /*prefix=*/false,
          [response](const Request&) { return response; });
  }

  // ServePrefix answers requests whose path starts with `prefix` (OCSP GET
  // puts the request in the path).
  void ServePrefix(const std::string& prefix, Response response) {
    Route(prefix, /*prefix=*/true,
          [response](const Request&) { return response; });
  }

  // Handle answers requests whose path starts with `prefix` with
  // `handler(request)` (called on a connection thread).
  void Handle(const std::string& prefix, Handler handler) {
    Route(prefix, /*prefix=*/true, std::move(handler));
  }

  // Count returns how many requests the route registered as `path` (or,
  // for unrouted requests, that exact path) received.
  int Count(const std::string& path) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = counts_.find(path);
    return it == counts_.end() ? 0 : it->second;
  }

  // TotalRequests counts every request received.
  int TotalRequests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }

  // Requests returns every request received so far, in arrival order.
  std::vector<Request> Requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  // ResetCounts forgets counts and recorded requests.
  void ResetCounts() {
    std::lock_guard<std::mutex> lock(mu_);
    counts_.clear();
    requests_.clear();
    total_ = 0;
  }

 private:
  struct RouteEntry {
    std::string path;
    bool prefix = false;
    Handler handler;
  };

  [[noreturn]] static void Die(const char* what) {
    std::perror(what);
    std::abort();
  }

  void Route(const std::string& path, bool prefix, Handler handler) {
    std::lock_guard<std::mutex> lock(mu_);
    for (RouteEntry& r : routes_) {
      if (r.path == path && r.prefix == prefix) {
        r.handler = std::move(handler);
        return;
      }
    }
    routes_.push_back(RouteEntry{path, prefix, std::move(handler)});
  }

  bool Stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_ || std::chrono::steady_clock::now() > deadline_;
  }

  void AcceptLoop() {
    while (!Stopping()) {
      pollfd p{listen_fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, 50);
      if (ready <= 0) {
        continue;
      }
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      if (workers_.size() >= kMaxConnections) {
        ::close(fd);
        continue;
      }
      workers_.emplace_back([this, fd] { ServeConnection(fd); });
    }
  }

  // ReadRequest reads one request; false on a malformed, oversized or
  // timed-out one.
  static bool ReadRequest(int fd, Request* out) {
    timeval tv{};
    tv.tv_sec = 5;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string data;
    size_t header_end = std::string::npos;
    char buf[8192];
    while (header_end == std::string::npos) {
      if (data.size() > kMaxHeaderBytes) {
        return false;
      }
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        return false;
      }
      data.append(buf, static_cast<size_t>(n));
      header_end = data.find("\r\n\r\n");
    }
    std::string head = data.substr(0, header_end);
    std::string body = data.substr(header_end + 4);
    size_t line_end = head.find("\r\n");
    std::string request_line = head.substr(0, line_end);
    size_t sp1 = request_line.find(' ');
    size_t sp2 = request_line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) {
      return false;
    }
    out->method = request_line.substr(0, sp1);
    out->target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    out->path = out->target.substr(0, out->target.find('?'));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t end = head.find("\r\n", pos);
      if (end == std::string::npos) {
        end = head.size();
      }
      std::string line = head.substr(pos, end - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) {
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') {
          ++v;
        }
        out->headers[name] = line.substr(v);
      }
      pos = end + 2;
    }
    size_t length = 0;
    if (auto it = out->headers.find("content-length");
        it != out->headers.end()) {
      length = std::strtoul(it->second.c_str(), nullptr, 10);
      if (length > kMaxBodyBytes) {
        return false;
      }
    }
    while (body.size() < length) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        return false;
      }
      body.append(buf, static_cast<size_t>(n));
    }
    body.resize(length);
    out->body = std::move(body);
    return true;
  }

  static void SendAll(int fd, std::string_view data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n =
          ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        return;  // the client went away (e.g. after its timeout)
      }
      sent += static_cast<size_t>(n);
    }
  }

  static std::string_view Reason(int status) {
    switch (status) {
      case 200:
        return "OK";
      case 301:
        return "Moved Permanently";
      case 302:
        return "Found";
      case 404:
        return "Not Found";
      case 500:
        return "Internal Server Error";
      default:
        return "Status";
    }
  }

  void ServeConnection(int fd) {
    Request request;
    if (ReadRequest(fd, &request)) {
      Handler handler;
      std::string key = request.path;
      {
        std::lock_guard<std::mutex> lock(mu_);
        size_t best = 0;
        for (const RouteEntry& r : routes_) {
          bool match = r.prefix ? request.path.rfind(r.path, 0) == 0
                                : request.path == r.path;
          if (match && r.path.size() >= best) {
            best = r.path.size();
            handler = r.handler;
            key = r.path;
          }
        }
        ++counts_[key];
        ++total_;
        requests_.push_back(request);
      }
      Response response;
      if (handler) {
        response = handler(request);
      } else {
        response.status = 404;
        response.body = "not found";
      }
      if (response.delay.count() > 0) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, response.delay, [this] { return stopping_; });
      }
      std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " +
                         std::string(Reason(response.status)) + "\r\n";
      head += "Content-Type: " + response.content_type + "\r\n";
      head +=
          "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
      if (!response.location.empty()) {
        head += "Location: " + response.location + "\r\n";
      }
      head += "Connection: close\r\n\r\n";
      SendAll(fd, head);
      if (request.method != "HEAD") {
        SendAll(fd, response.body);
      }
    }
    ::shutdown(fd, SHUT_WR);
    ::close(fd);
  }

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::vector<RouteEntry> routes_;
  std::map<std::string, int> counts_;
  std::vector<Request> requests_;
  int total_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> workers_;
};

}  // namespace trustgate::testing
