// maskterial: find 2D material flakes in optical microscope images and tell their layer count.
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/core/defaults.hpp"
#include "maskterial/util/blas_runtime.hpp"
#include "maskterial/util/error.hpp"

int main(int argc, char** argv) {
  using namespace maskterial::cli;
  maskterial::configure_blas();  // before any matrix product: the right OpenBLAS kernels, self-checked
  CLI::App app{"maskterial: finds 2D material flakes in microscope images and classifies their thickness"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("maskterial ") + maskterial::kVersion);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");
  spdlog::set_pattern("%^[%l]%$ %v");

  const Runner detect = add_detect(app);
  const Runner eval = add_eval(app);
  const Runner train_classifier = add_train_classifier(app);
  const Runner classify = add_classify(app);
  const Runner optics = add_optics(app);
  const Runner synth = add_synth(app);
  const Runner serve = add_serve(app);
  const Runner pretrain = add_pretrain(app);
  const Runner finetune = add_finetune(app);
  const Runner dataset = add_dataset(app);
  const Runner doctor = add_doctor(app);
  const Runner scan = add_scan(app);
  const Runner export_scan = add_export(app);

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
    if (app.got_subcommand("train-classifier")) return train_classifier();
    if (app.got_subcommand("classify")) return classify();
    if (app.got_subcommand("optics")) return optics();
    if (app.got_subcommand("synth")) return synth();
    if (app.got_subcommand("serve")) return serve();
    if (app.got_subcommand("pretrain")) return pretrain();
    if (app.got_subcommand("finetune")) return finetune();
    if (app.got_subcommand("dataset")) return dataset();
    if (app.got_subcommand("doctor")) return doctor();
    if (app.got_subcommand("scan")) return scan();
    if (app.got_subcommand("export")) return export_scan();
  } catch (const maskterial::Error& e) {
    spdlog::error("{}", e.what());
    return kFatal;
  } catch (const std::exception& e) {
    spdlog::error("unexpected error: {}", e.what());
    return kFatal;
  }
  return kUsage;
}
