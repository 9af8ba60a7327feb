// `maskterial serve`: the inference server and web page (see docs/server.md).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <thread>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/serve/server.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::cli {
namespace {

struct ServeArgs {
  serve::ServerOptions server;
  size_t max_image_mb = 64, max_model_mb = 256, max_training_mb = 1024, max_image_megapixels = kDefaultMaxImagePixels / 1000000;
};

// SIGINT/SIGTERM only write a byte to a pipe (all a signal handler may safely do); a thread reading the pipe
// stops the server, whichever thread the signal arrived on.
int stop_pipe[2] = {-1, -1};

void on_stop_signal(int) {
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(stop_pipe[1], &byte, 1);
}

int run(ServeArgs& args) {
  args.server.max_image_bytes = args.max_image_mb << 20;
  args.server.max_image_pixels = args.max_image_megapixels * 1000000;
  set_max_image_pixels(args.server.max_image_pixels);  // training jobs decode their images with it
  args.server.max_model_bytes = args.max_model_mb << 20;
  args.server.max_training_bytes = args.max_training_mb << 20;
  serve::Server server(args.server);
  const int port = server.bind();

  if (::pipe(stop_pipe) != 0) throw Error("cannot create a pipe for signal handling");
  std::thread stopper([&] {
    char byte = 0;
    if (::read(stop_pipe[0], &byte, 1) == 1 && byte == 1) spdlog::info("stopping");
    server.stop();
  });
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  std::printf("maskterial serving on http://%s:%d (models in %s)\n", args.server.host.c_str(), port,
              args.server.models_dir.c_str());
  std::fflush(stdout);
  server.listen();
  const char done = 0;  // ends the stopper thread if listen() returned on its own
  [[maybe_unused]] const ssize_t n = ::write(stop_pipe[1], &done, 1);
  stopper.join();
  return kOk;
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto& s = args->server;
  CLI::App* cmd = app.add_subcommand("serve", "Run the inference server and web page");
  cmd->add_option("--port", s.port, "TCP port (0 = any free port, printed at start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--host", s.host, "Address to listen on (0.0.0.0 = every network)")->capture_default_str();
  cmd->add_option("--models", s.models_dir, "Models folder (classification/<name>/, segmentation/<name>/); "
                                            "created if missing")
      ->capture_default_str();
  cmd->add_option("--datasets", s.datasets_dir, "Annotation datasets folder (default: <models>/datasets)");
  cmd->add_option("--scans", s.scans_db, "Scan database (SQLite, created if missing) for scan review (/api/scans)");
  cmd->add_option("--scan-root", s.scan_root, "Folder whose sub-folders may be scanned through the API")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--workers", s.workers, "Detection threads (0 = one per core)")->capture_default_str();
  cmd->add_option("--queue", s.queue, "Detections that may wait for a worker; more get 503")->capture_default_str();
  cmd->add_option("--connections", s.connections, "Connection threads")->capture_default_str()->check(CLI::Range(4, 4096));
  cmd->add_option("--max-image-mb", args->max_image_mb, "Largest image upload, MiB")->capture_default_str();
  cmd->add_option("--max-image-megapixels", args->max_image_megapixels, "Largest image, megapixels")
      ->capture_default_str();
  cmd->add_option("--max-model-mb", args->max_model_mb, "Largest model upload, MiB")->capture_default_str();
  cmd->add_option("--max-training-mb", args->max_training_mb, "Largest training upload, MiB")->capture_default_str();
  return [args] { return run(*args); };
}

}  // namespace maskterial::cli
