// maskterial: find 2D material flakes in optical microscope images and tell their layer count.
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/util/error.hpp"

int main(int argc, char** argv) {
  using namespace maskterial::cli;
  CLI::App app{"maskterial: finds 2D material flakes in microscope images and classifies their thickness"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("maskterial 0.1.0"));
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");
  spdlog::set_pattern("%^[%l]%$ %v");

  const Runner detect = add_detect(app);
  const Runner eval = add_eval(app);
  const Runner train_gmm = add_train_gmm(app);
  const Runner serve = add_serve(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  if (verbose) spdlog::set_level(spdlog::level::debug);

  try {
    if (app.got_subcommand("detect")) return detect();
    if (app.got_subcommand("eval")) return eval();
    if (app.got_subcommand("train-gmm")) return train_gmm();
    if (app.got_subcommand("serve")) return serve();
  } catch (const maskterial::Error& e) {
    spdlog::error("{}", e.what());
    return kFatal;
  } catch (const std::exception& e) {
    spdlog::error("unexpected error: {}", e.what());
    return kFatal;
  }
  return kUsage;
}
