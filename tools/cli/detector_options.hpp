#pragma once
// Options that pick and tune a detector, shared by `detect` and `eval --images`.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "maskterial/pipeline/gmm_detector.hpp"

namespace maskterial::cli {

struct DetectorOptions {
  std::string gmm_path;  // empty = built-in graphene model
  std::string compat;    // "" or "2dmatgmm"
  std::string flat_field;
  GmmDetectorOptions gmm;

  void add_to(CLI::App& command);
  // Throws Error naming the file on unreadable models.
  std::unique_ptr<GmmDetector> build() const;
  std::string model_name() const;
};

}  // namespace maskterial::cli
