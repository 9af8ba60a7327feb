// ablation_report: turns scripts/pretraining_ablation.sh's CSV into a Markdown table (per variant: mean and
// range over seeds of each score) and a plot of the means, one line per score across the variants.
// Usage: ablation_report PRETRAINING_ABLATION.csv OUT_DIR
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/util/files.hpp"
#include "maskterial/util/plot.hpp"

namespace {

constexpr size_t kFirstScore = 3;  // variant, seed, iterations, then the scores, then seconds
struct Variant {
  std::string name;
  std::vector<std::vector<double>> scores;  // per score column, one value per seed
  std::vector<std::string> iterations;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: ablation_report PRETRAINING_ABLATION.csv OUT_DIR\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::string line;
  if (!in || !std::getline(in, line)) {
    std::cerr << argv[1] << ": cannot read\n";
    return 3;
  }
  std::vector<std::string> header;
  for (std::stringstream fields(line); std::getline(fields, line, ',');) header.push_back(line);
  if (header.size() < kFirstScore + 2) {
    std::cerr << argv[1] << ": expected variant,seed,iterations,<scores...>,seconds\n";
    return 3;
  }
  const size_t n_scores = header.size() - kFirstScore - 1;
  std::vector<Variant> variants;
  for (int row = 2; std::getline(in, line); ++row) {
    std::vector<std::string> f;
    for (std::stringstream fields(line); std::getline(fields, line, ',');) f.push_back(line);
    if (f.size() != header.size()) {
      std::cerr << argv[1] << ": line " << row << ": expected " << header.size() << " fields\n";
      return 3;
    }
    auto it = std::find_if(variants.begin(), variants.end(), [&](const Variant& v) { return v.name == f[0]; });
    if (it == variants.end()) it = variants.insert(variants.end(), {f[0], std::vector<std::vector<double>>(n_scores), {}});
    for (size_t s = 0; s < n_scores; ++s) it->scores[s].push_back(std::stod(f[kFirstScore + s]));
    if (std::find(it->iterations.begin(), it->iterations.end(), f[2]) == it->iterations.end()) it->iterations.push_back(f[2]);
  }

  std::ostringstream md;
  md << "| # | variant | iterations | seeds |";
  for (size_t s = 0; s < n_scores; ++s) md << " " << header[kFirstScore + s] << " |";
  md << "\n|---|---|---|---|";
  for (size_t s = 0; s < n_scores; ++s) md << "---|";
  md << "\n";
  std::vector<maskterial::PlotSeries> series;
  const std::vector<cv::Scalar> colours{{40, 40, 200}, {200, 120, 0}, {0, 150, 0}, {150, 0, 150}, {0, 0, 0}};
  for (size_t s = 0; s < n_scores; ++s) series.push_back({header[kFirstScore + s], {}, {}, colours[s % colours.size()]});
  std::string legend;
  for (size_t i = 0; i < variants.size(); ++i) {
    const Variant& v = variants[i];
    std::string iterations;
    for (const auto& n : v.iterations) iterations += (iterations.empty() ? "" : ", ") + n;
    md << "| " << i + 1 << " | " << v.name << " | " << iterations << " | " << v.scores[0].size() << " |";
    legend += (legend.empty() ? "" : ", ") + std::to_string(i + 1) + " " + v.name;
    for (size_t s = 0; s < n_scores; ++s) {
      const auto& x = v.scores[s];
      double sum = 0;
      for (double value : x) sum += value;
      const double mean = sum / static_cast<double>(x.size());
      char cell[80];
      std::snprintf(cell, sizeof cell, " %.3f (%.3f–%.3f) |", mean, *std::min_element(x.begin(), x.end()),
                    *std::max_element(x.begin(), x.end()));
      md << cell;
      series[s].x.push_back(static_cast<double>(i + 1));
      series[s].y.push_back(mean);
    }
    md << "\n";
  }
  md << "\nCells: mean over seeds (lowest–highest).\n";
  const std::string out = argv[2];
  maskterial::write_image_atomic(out + "/pretraining_ablation.png",
                                 maskterial::render_line_plot(series, "zero-shot, model alone: " + legend,
                                                              "variant (mean over seeds)", {1000, 520}));
  maskterial::write_file_atomic(out + "/pretraining_ablation.md", md.str());
  std::cout << md.str();
  return 0;
}
