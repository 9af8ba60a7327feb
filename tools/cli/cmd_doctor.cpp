// `maskterial doctor`: what this machine computes with (CPU features, BLAS library, kernel and self-check,
// threads, oneDNN), to check a set-up or attach to a bug report.
#include <cstdio>

#include "commands.hpp"
#include "maskterial/util/blas_runtime.hpp"
#include "maskterial/util/runtime_info.hpp"

namespace maskterial::cli {

Runner add_doctor(CLI::App& app) {
  app.add_subcommand("doctor", "Print the CPU features, BLAS kernel, threads and oneDNN in use");
  return [] {
    std::fputs(runtime_report().c_str(), stdout);
    return configure_blas().self_check_passed ? kOk : kFatal;
  };
}

}  // namespace maskterial::cli
