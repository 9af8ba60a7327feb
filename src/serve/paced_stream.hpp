#pragma once
// The server's side of one connection, as httplib reads and writes it, with a budget on the time spent
// waiting for the client: a request may wait at most `grace_s` plus one second per `min_bytes_per_s` bytes
// it has moved. A slow client (slowloris: a header byte every few seconds, or a body trickling in) is cut off
// within seconds instead of holding a connection thread for as long as it likes; time the server spends
// computing the answer is not waiting and never counts.
#include <chrono>
#include <string>

#include <httplib.h>

namespace maskterial::serve {

struct ConnectionLimits {
  int read_timeout_ms = 5000;   // longest wait for any one read
  int write_timeout_ms = 5000;  // longest wait for any one write
  double grace_s = 5;           // waiting allowed to every request
  double min_bytes_per_s = 32 * 1024;
};

class PacedStream : public httplib::Stream {
 public:
  PacedStream(socket_t sock, ConnectionLimits limits) : sock_(sock), limits_(limits) {}

  // A new request on the connection: the budget starts again (bytes already buffered are kept).
  void next_request();
  // Waits until a request starts or `idle_ms` pass; false when the client closed or stayed silent.
  bool wait_for_request(int idle_ms);
  bool has_buffered() const { return begin_ < end_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return sock_; }

 private:
  // poll() for `events` up to timeout_ms and what is left of the budget; counts the time waited.
  bool wait(short events, int timeout_ms) const;

  socket_t sock_;
  ConnectionLimits limits_;
  double moved_bytes_ = 0;
  mutable double waited_s_ = 0;
  char buffer_[4096];
  size_t begin_ = 0, end_ = 0;
};

}  // namespace maskterial::serve
