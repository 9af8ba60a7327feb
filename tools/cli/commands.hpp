#pragma once
// Subcommands of the `maskterial` tool. Each registers its options on the app and returns a function that
// runs it and yields the process exit code (see README "Exit codes").
#include <functional>

#include <CLI/CLI.hpp>

namespace maskterial::cli {

enum ExitCode : int {
  kOk = 0,
  kSomeInputsFailed = 1,  // the batch ran, but some files could not be processed
  kUsage = 2,             // bad command line
  kFatal = 3,             // nothing could run: model or ground truth unreadable, output not writable
};

using Runner = std::function<int()>;

// --max-image-megapixels on a command that reads images: sets the process-wide image pixel limit (image/io.hpp).
void add_image_limit(CLI::App& cmd);

Runner add_detect(CLI::App& app);
Runner add_eval(CLI::App& app);
Runner add_train_classifier(CLI::App& app);
Runner add_classify(CLI::App& app);
Runner add_optics(CLI::App& app);
Runner add_synth(CLI::App& app);
Runner add_serve(CLI::App& app);
Runner add_pretrain(CLI::App& app);
Runner add_finetune(CLI::App& app);
Runner add_dataset(CLI::App& app);
Runner add_doctor(CLI::App& app);
Runner add_scan(CLI::App& app);
Runner add_export(CLI::App& app);

}  // namespace maskterial::cli
