// synth_compare: synthetic training images beside real scans, to see (and close) the differences. Writes a
// contact sheet (real scans on the top rows, synthetic images of the dense pretraining below, annotated flakes
// outlined in red, synthetic junk in yellow: docs/synth_contact_sheet.jpg) and histograms of the contrast
// magnitude |C| (C = I / I_bg - 1, BGR) of substrate pixels, flake pixels and pixels at flake edges, real against
// synthetic, with their medians in a JSON file.
// Usage: synth_compare REAL_IMAGES_DIR REAL_MASKS_DIR OUT_DIR [BACKGROUND_DIR...]
#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/image/contrast.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/segment/dense/dense_training.hpp"
#include "maskterial/synth/generator.hpp"
#include "maskterial/util/files.hpp"
#include "maskterial/util/plot.hpp"

using namespace maskterial;

namespace {

constexpr int kBins = 60;
constexpr double kMaxContrast = 1.0;  // |C| of thick crystals and dirt reaches it
constexpr int kTile = 320;

struct Histograms {
  std::map<std::string, std::vector<double>> counts;  // substrate, flake, edge
  void add(const cv::Mat& bgr8, const cv::Mat& flake_mask) {
    const Bgr bg = substrate_colour(bgr8);
    cv::Mat inner, outer;
    const cv::Mat kernel = cv::getStructuringElement(cv::MORPH_ELLIPSE, {5, 5});
    cv::erode(flake_mask, inner, kernel);
    cv::dilate(flake_mask, outer, kernel);
    for (const char* kind : {"substrate", "flake", "edge"}) counts[kind].resize(kBins, 0);
    for (int y = 0; y < bgr8.rows; ++y) {
      const auto* p = bgr8.ptr<cv::Vec3b>(y);
      for (int x = 0; x < bgr8.cols; ++x) {
        double sum = 0;
        for (int c = 0; c < 3; ++c) sum += std::pow(p[x][c] / bg[c] - 1, 2);
        const int bin = std::min(kBins - 1, static_cast<int>(std::sqrt(sum) / kMaxContrast * kBins));
        const char* kind = inner.at<uint8_t>(y, x) ? "flake" : outer.at<uint8_t>(y, x) ? "edge" : "substrate";
        ++counts[kind][static_cast<size_t>(bin)];
      }
    }
  }
  std::vector<double> normalised(const std::string& kind) const {
    std::vector<double> h = counts.at(kind);
    double total = 0;
    for (double v : h) total += v;
    for (double& v : h) v = total > 0 ? v / total : 0;
    return h;
  }
  double median(const std::string& kind) const {
    const std::vector<double> h = normalised(kind);
    double seen = 0;
    for (int b = 0; b < kBins; ++b)
      if ((seen += h[static_cast<size_t>(b)]) >= 0.5) return (b + 0.5) * kMaxContrast / kBins;
    return kMaxContrast;
  }
};

// Flakes outlined in red, junk (synthetic images only: thick crystals, markers, dirt ...) in yellow.
cv::Mat tile_of(const cv::Mat& image, const cv::Mat& mask, const cv::Mat& junk = {}) {
  cv::Mat shown = image.clone();
  for (const auto& [outlined, colour] : {std::pair{junk, cv::Scalar(0, 220, 255)}, std::pair{mask, cv::Scalar(0, 0, 255)}}) {
    if (outlined.empty()) continue;
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(outlined, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    cv::drawContours(shown, contours, -1, colour, std::max(1, image.cols / 300));
  }
  const double scale = static_cast<double>(kTile) / std::max(image.cols, image.rows);
  cv::Mat small;
  cv::resize(shown, small, {}, scale, scale, cv::INTER_AREA);
  cv::Mat out(kTile, kTile, CV_8UC3, cv::Scalar(255, 255, 255));
  small.copyTo(out(cv::Rect(0, 0, small.cols, small.rows)));
  return out;
}

cv::Mat rows_of(const std::vector<cv::Mat>& tiles, int per_row) {
  std::vector<cv::Mat> rows;
  for (size_t i = 0; i < tiles.size(); i += static_cast<size_t>(per_row)) {
    std::vector<cv::Mat> row(tiles.begin() + static_cast<long>(i),
                             tiles.begin() + static_cast<long>(std::min(tiles.size(), i + static_cast<size_t>(per_row))));
    while (row.size() < static_cast<size_t>(per_row)) row.push_back(cv::Mat(kTile, kTile, CV_8UC3, cv::Scalar::all(255)));
    cv::Mat joined;
    cv::hconcat(row, joined);
    rows.push_back(joined);
  }
  cv::Mat sheet;
  cv::vconcat(rows, sheet);
  return sheet;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: synth_compare REAL_IMAGES_DIR REAL_MASKS_DIR OUT_DIR [BACKGROUND_DIR...]\n";
    return 2;
  }
  try {
    const std::string out = argv[3];
    const coco::Dataset real = coco::read_instance_mask_folder(argv[1], argv[2]);
    Histograms real_h, synth_h;
    std::vector<cv::Mat> tiles;
    for (const coco::ImageInfo& info : real.images) {
      const cv::Mat image = load_image(std::string(argv[1]) + "/" + info.file_name);
      cv::Mat mask = cv::Mat::zeros(image.size(), CV_8U);
      for (const coco::Annotation* a : real.annotations_of(info.id)) mask |= coco::decode(a->segmentation) * 255;
      real_h.add(image, mask);
      if (tiles.size() < 8) tiles.push_back(tile_of(image, mask));
    }
    std::vector<std::string> folders(argv + 4, argv + argc);
    std::shared_ptr<const synth::BackgroundLibrary> backgrounds;
    if (!folders.empty()) backgrounds = std::make_shared<synth::BackgroundLibrary>(synth::BackgroundLibrary::load(folders, segment::DensePretraining{}.background_flake_threshold));
    synth::SynthConfig config;
    config.agnostic = true;
    config.width = 960;
    config.height = 600;
    const synth::Generator generator(config, backgrounds);
    for (uint64_t i = 0; i < 16; ++i) {
      const synth::SynthSample s = generator.generate(7, i);
      const cv::Mat mask = s.instance_ids > 0;
      synth_h.add(s.image, mask);
      if (tiles.size() < 24) tiles.push_back(tile_of(s.image, mask, s.junk_ids > 0));
    }
    write_image_atomic(out + "/synth_vs_real_contact_sheet.jpg", rows_of(tiles, 4));
    std::vector<double> x;
    for (int b = 0; b < kBins; ++b) x.push_back((b + 0.5) * kMaxContrast / kBins);
    std::vector<PlotSeries> series;
    const std::map<std::string, cv::Scalar> colour = {
        {"substrate", {120, 120, 120}}, {"flake", {30, 30, 220}}, {"edge", {40, 160, 40}}};
    nlohmann::json medians;
    for (const auto& [kind, c] : colour) {
      series.push_back({"real " + kind, x, real_h.normalised(kind), c});
      series.push_back({"synthetic " + kind, x, synth_h.normalised(kind), c * 0.5});
      medians[kind] = {{"real", real_h.median(kind)}, {"synthetic", synth_h.median(kind)}};
    }
    write_image_atomic(out + "/synth_vs_real_contrast.png",
                       render_line_plot(series, "share of pixels by contrast magnitude |C|", "|C|", {1000, 560}));
    const nlohmann::json summary = {{"median_contrast", medians}, {"real_images", real.images.size()},
                                     {"synthetic_images", 16}, {"backgrounds", folders}};
    write_json_atomic(out + "/synth_vs_real.json", summary, 2);
    std::cout << medians.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 3;
  }
  return 0;
}
