#pragma once
// The inference server: a REST API (OpenAPI description at /api/openapi.json) and the web page, from one
// binary. Detection (segmentation model + classifier, as `maskterial detect`) runs on a worker pool with a
// bounded queue (503 when full); models come from a ModelStore directory; training (classifiers, segmentation
// model fine-tuning) runs as background jobs. See README "Server".
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "maskterial/image/io.hpp"

namespace maskterial::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";  // "0.0.0.0" to serve the whole network
  int port = 8000;                 // 0: any free port (bind() says which)
  std::filesystem::path models_dir = "maskterial-models";
  std::filesystem::path datasets_dir;  // annotation datasets; empty: models_dir/datasets
  // The segmentation model predictions use when they name none; empty: the shipped one `detect` uses.
  std::filesystem::path default_segmentation_model;
  // Scan review (docs/scan.md): the scan database (empty: none, the /api/scans routes answer 404) and the folder
  // whose sub-folders may be scanned.
  std::filesystem::path scans_db;
  std::filesystem::path scan_root;
  size_t workers = 0;              // detection threads; 0 = one per core (several: one compute thread each)
  size_t queue = 16;               // detections that may wait for a worker; more are answered 503
  size_t connections = 64;         // threads reading requests and writing responses
  // Every request may wait for its client this long, plus a second per client_min_bytes_per_s bytes moved;
  // slower clients are disconnected, so they cannot hold the connection threads.
  double client_grace_s = 5;
  double client_min_bytes_per_s = 32 * 1024;
  size_t max_image_bytes = size_t{64} << 20;      // POST /api/predict
  size_t max_image_pixels = kDefaultMaxImagePixels;  // decoded size, checked on the file header
  size_t max_model_bytes = size_t{256} << 20;     // PUT /api/models/...
  size_t max_training_bytes = size_t{1} << 30;    // POST /api/jobs (images + annotations)
};

class Server {
 public:
  // Loads the models; throws Error if the models folder cannot be created or read.
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and returns the port; throws Error if that fails (port taken, bad host).
  int bind();
  // Serves until stop() (blocking); call after bind().
  void listen();
  // Thread-safe; listen() returns once the requests in progress are answered.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace maskterial::serve
