#pragma once
// A server running in-process on a free loopback port, and the client calls the server tests make.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "maskterial/serve/server.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::serve::test {

// An empty folder under /tmp for one test, named after it and the process (ctest runs tests in parallel, and
// other builds may run the same tests), removed afterwards.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (name + "_" + (test ? test->name() : "") + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class LiveServer {
 public:
  explicit LiveServer(ServerOptions options) : server_(with_free_port(std::move(options))) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.listen(); });
  }
  ~LiveServer() {
    server_.stop();
    thread_.join();
  }
  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    c.set_write_timeout(60, 0);
    return c;
  }

 private:
  static ServerOptions with_free_port(ServerOptions o) {
    o.port = 0;
    o.host = "127.0.0.1";
    return o;
  }
  Server server_;
  int port_ = 0;
  std::thread thread_;
};

inline httplib::MultipartFormData file_part(const std::string& field, const std::string& content,
                                            const std::string& filename) {
  return {field, content, filename, "application/octet-stream"};
}
inline httplib::MultipartFormData text_part(const std::string& field, const std::string& value) {
  return {field, value, "", ""};
}

inline httplib::Result predict(httplib::Client& client, const std::string& image, const std::string& filename,
                               httplib::MultipartFormDataItems fields = {}) {
  fields.push_back(file_part("image", image, filename));
  return client.Post("/api/predict", fields);
}

inline nlohmann::json body_json(const httplib::Result& r) { return nlohmann::json::parse(r->body); }

// Status of a response, -1 if there was none (connection failed).
inline int status_of(const httplib::Result& r) { return r ? r->status : -1; }

// Every error answer carries a JSON message.
inline std::string error_of(const httplib::Result& r) {
  if (!r) return "(no response)";
  try {
    return nlohmann::json::parse(r->body).at("error").get<std::string>();
  } catch (const std::exception&) {
    return "(no JSON error body: " + r->body.substr(0, 200) + ")";
  }
}

}  // namespace maskterial::serve::test
