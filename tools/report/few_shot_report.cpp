// few_shot_report: turns scripts/few_shot.sh's CSV into a Markdown table (mean AP50 and AP over seeds, per
// material, method and number of training images) and one plot per material (AP50 against training images).
// Usage: few_shot_report FEW_SHOT.csv OUT_DIR
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/util/files.hpp"
#include "maskterial/util/plot.hpp"

namespace {

struct Scores {
  std::vector<double> ap, ap50;
};
double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: few_shot_report FEW_SHOT.csv OUT_DIR\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::cerr << argv[1] << ": cannot read\n";
    return 3;
  }
  const std::string out = argv[2];
  // material -> method -> training images -> scores
  std::map<std::string, std::map<std::string, std::map<int, Scores>>> table;
  std::vector<std::string> methods;
  std::string line;
  std::getline(in, line);  // header
  for (int row = 2; std::getline(in, line); ++row) {
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
    if (f.size() < 6) {
      std::cerr << argv[1] << ": line " << row << ": expected 7 fields\n";
      return 3;
    }
    Scores& s = table[f[0]][f[3]][std::stoi(f[1])];
    s.ap.push_back(std::stod(f[4]));
    s.ap50.push_back(std::stod(f[5]));
    if (std::find(methods.begin(), methods.end(), f[3]) == methods.end()) methods.push_back(f[3]);
  }

  // Baselines first, then the segmentation variants, whatever order the rows came in.
  const std::vector<std::string> preferred{"gmm", "amm", "mlp", "zero-shot+gmm", "zero-shot+amm", "zero-shot+mlp",
                                           "decoder+amm", "whole+amm", "scratch+amm", "m2f-lite-zero-shot+amm"};
  const auto rank = [&](const std::string& m) {
    return std::find(preferred.begin(), preferred.end(), m) - preferred.begin();
  };
  std::stable_sort(methods.begin(), methods.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });

  std::ostringstream md;
  md << "| material | training images |";
  for (const auto& m : methods) md << " " << m << " |";
  md << "\n|---|---|";
  for (size_t i = 0; i < methods.size(); ++i) md << "---|";
  md << "\n";
  const std::vector<cv::Scalar> colours{{40, 40, 200}, {200, 120, 0}, {0, 150, 0},   {150, 0, 150},
                                        {0, 0, 0},     {0, 140, 255}, {130, 130, 0}, {120, 120, 120}};
  // The plot: the classifiers alone and every segmenter variant with the AMM (the table has them all).
  const auto plotted = [](const std::string& m) {
    return m == "gmm" || m == "amm" || (m.size() > 4 && m.compare(m.size() - 4, 4, "+amm") == 0);
  };
  for (const auto& [material, by_method] : table) {
    std::set<int> sizes;
    for (const auto& [method, by_size] : by_method)
      for (const auto& [k, scores] : by_size) sizes.insert(k);
    for (int k : sizes) {
      md << "| " << material << " | " << k << " |";
      for (const auto& m : methods) {
        const auto it = by_method.find(m);
        if (it == by_method.end() || !it->second.count(k)) {
          md << " – |";
          continue;
        }
        const Scores& s = it->second.at(k);
        char cell[64];
        std::snprintf(cell, sizeof cell, " %.3f / %.3f (%zu) |", mean(s.ap50), mean(s.ap), s.ap50.size());
        md << cell;
      }
      md << "\n";
    }
    std::vector<maskterial::PlotSeries> series;
    for (size_t i = 0; i < methods.size(); ++i) {
      const auto it = by_method.find(methods[i]);
      if (it == by_method.end() || !plotted(methods[i])) continue;
      maskterial::PlotSeries line_of{methods[i], {}, {}, colours[series.size() % colours.size()]};
      for (const auto& [k, scores] : it->second) {
        line_of.x.push_back(k);
        line_of.y.push_back(mean(scores.ap50));
      }
      series.push_back(line_of);
    }
    const cv::Mat plot = maskterial::render_line_plot(
        series, material + ": held-out class-agnostic mask AP50 (mean over seeds)", "annotated training images");
    cv::imwrite(out + "/few_shot_" + material + ".png", plot);
  }
  md << "\nCells: AP50 / AP, mean over seeds (number of seeds).\n";
  maskterial::write_file_atomic(out + "/few_shot.md", md.str());
  std::cout << md.str();
  return 0;
}
