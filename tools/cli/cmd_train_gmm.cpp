// `maskterial train-gmm`: placeholder until the training module lands.
#include "commands.hpp"

namespace maskterial::cli {
Runner add_train_gmm(CLI::App& app) {
  app.add_subcommand("train-gmm", "Fit a GMM classifier from annotated images");
  return [] { return int(kUsage); };
}
}  // namespace maskterial::cli
