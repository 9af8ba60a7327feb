#pragma once
// Options that pick and tune a detector, shared by `detect`, `classify` and `eval --images`.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "maskterial/pipeline/detector.hpp"

namespace maskterial::cli {

struct DetectorCliOptions {
  std::string classifier_path;  // empty = built-in graphene GMM
  std::string compat;           // "" or "2dmatgmm"
  std::string flat_field;
  DetectorOptions detector;

  void add_to(CLI::App& command);
  // Throws Error naming the file on unreadable models.
  std::unique_ptr<Detector> build() const;
  std::string model_name() const;
};

}  // namespace maskterial::cli
