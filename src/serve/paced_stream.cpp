#include "paced_stream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace maskterial::serve {
namespace {

void ip_and_port(const sockaddr_storage& address, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(address);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    port = ntohs(a.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(address);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    port = ntohs(a.sin6_port);
  }
  ip = text;
}

}  // namespace

void PacedStream::next_request() {
  moved_bytes_ = 0;
  waited_s_ = 0;
}

bool PacedStream::wait_for_request(int idle_ms) {
  if (has_buffered()) return true;
  pollfd p{sock_, POLLIN, 0};
  const int ready = ::poll(&p, 1, idle_ms);
  return ready > 0 && (p.revents & POLLIN);
}

bool PacedStream::wait(short events, int timeout_ms) const {
  const double budget_s = limits_.grace_s + moved_bytes_ / limits_.min_bytes_per_s - waited_s_;
  if (budget_s <= 0) return false;
  const int wait_ms = std::min<double>(timeout_ms, budget_s * 1000 + 1);
  pollfd p{sock_, events, 0};
  const auto start = std::chrono::steady_clock::now();
  int ready;
  do {
    ready = ::poll(&p, 1, wait_ms);
  } while (ready < 0 && errno == EINTR);
  waited_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ready > 0 && !(p.revents & (POLLERR | POLLNVAL));
}

bool PacedStream::is_readable() const { return has_buffered() || wait(POLLIN, limits_.read_timeout_ms); }

bool PacedStream::is_writable() const { return wait(POLLOUT, limits_.write_timeout_ms); }

ssize_t PacedStream::read(char* ptr, size_t size) {
  if (!has_buffered()) {
    if (!wait(POLLIN, limits_.read_timeout_ms)) return -1;
    ssize_t n;
    do {
      n = ::recv(sock_, buffer_, sizeof buffer_, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return n;
    moved_bytes_ += static_cast<double>(n);
    begin_ = 0;
    end_ = static_cast<size_t>(n);
  }
  const size_t n = std::min(size, end_ - begin_);
  std::memcpy(ptr, buffer_ + begin_, n);
  begin_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t PacedStream::write(const char* ptr, size_t size) {
  if (!is_writable()) return -1;
  ssize_t n;
  do {
    n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n > 0) moved_bytes_ += static_cast<double>(n);
  return n;
}

void PacedStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&address), &length) == 0) ip_and_port(address, ip, port);
}

void PacedStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&address), &length) == 0) ip_and_port(address, ip, port);
}

}  // namespace maskterial::serve
