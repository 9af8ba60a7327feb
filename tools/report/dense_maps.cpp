// dense_maps: what the dense segmentation model sees and says, per image, as one picture: the image with the
// annotated flakes outlined (green) and the raw instances (orange), then the flake, boundary and distance maps
// as heat maps with the same outlines. For diagnosing misses (faint, large or touching flakes).
// Usage: dense_maps MODEL_DIR OUT_DIR IMAGE... [--masks INSTANCE_MASKS_DIR]
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/image/io.hpp"
#include "maskterial/segment/dense/dense_segmenter.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

using namespace maskterial;

namespace {

constexpr int kPanelWidth = 640;

void outline(cv::Mat& panel, const cv::Mat& mask, const cv::Scalar& colour) {
  cv::Mat small;
  cv::resize(mask, small, panel.size(), 0, 0, cv::INTER_NEAREST);
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(small, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE);
  cv::drawContours(panel, contours, -1, colour, 1);
}

cv::Mat heat(const cv::Mat& probability, const cv::Size& size) {
  cv::Mat scaled, bytes, coloured;
  cv::resize(probability, scaled, size, 0, 0, cv::INTER_LINEAR);
  scaled.convertTo(bytes, CV_8U, 255.0);
  cv::applyColorMap(bytes, coloured, cv::COLORMAP_INFERNO);
  return coloured;
}

// Per annotated instance: its area and the best IoU of a found instance (with that instance's score).
void print_matches(const std::string& name, const cv::Mat& ids, const std::vector<segment::InstanceMask>& found) {
  double max_id = 0;
  cv::minMaxLoc(ids, nullptr, &max_id);
  for (int id = 1; id <= static_cast<int>(max_id); ++id) {
    const cv::Mat truth = ids == id;
    const int area = cv::countNonZero(truth);
    if (area == 0) continue;
    double best = 0, score = 0;
    for (const auto& instance : found) {
      const double inter = cv::countNonZero(truth & instance.mask), uni = cv::countNonZero(truth | instance.mask);
      if (uni > 0 && inter / uni > best) best = inter / uni, score = instance.score;
    }
    std::cout << name << " instance " << id << " area " << area << " best IoU " << best << " score " << score << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc), images;
  std::string masks_dir;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--masks" && i + 1 < args.size()) masks_dir = args[++i];
    else images.push_back(args[i]);
  }
  if (images.size() < 3) {
    std::cerr << "usage: dense_maps MODEL_DIR OUT_DIR IMAGE... [--masks INSTANCE_MASKS_DIR]\n";
    return 2;
  }
  try {
    const auto model = segment::DenseSegmenter::load(images[0]);
    const std::string out = images[1];
    std::filesystem::create_directories(out);
    for (size_t i = 2; i < images.size(); ++i) {
      const cv::Mat bgr = load_image(images[i]);
      const segment::DenseProbabilities maps = model->probabilities(bgr);
      const cv::Size size(kPanelWidth, kPanelWidth * bgr.rows / bgr.cols);
      cv::Mat photo;
      cv::resize(bgr, photo, size, 0, 0, cv::INTER_AREA);
      std::vector<cv::Mat> panels{photo, heat(maps.flake, size), heat(maps.boundary, size), heat(maps.distance, size)};
      cv::Mat truth;
      if (!masks_dir.empty()) {
        const std::string path = masks_dir + "/" + std::filesystem::path(images[i]).stem().string() + ".png";
        if (std::filesystem::exists(path)) truth = cv::imread(path, cv::IMREAD_GRAYSCALE) > 0;
      }
      cv::Mat found = cv::Mat::zeros(bgr.size(), CV_8U);
      const std::vector<segment::InstanceMask> instances = model->predict(bgr);
      for (const auto& instance : instances) found.setTo(255, instance.mask);
      if (!truth.empty()) print_matches(std::filesystem::path(images[i]).stem().string(),
                                        cv::imread(masks_dir + "/" + std::filesystem::path(images[i]).stem().string() + ".png",
                                                   cv::IMREAD_UNCHANGED), instances);
      for (cv::Mat& panel : panels) {
        if (!truth.empty()) outline(panel, truth, {0, 255, 0});
        outline(panel, found, {0, 165, 255});
      }
      cv::Mat sheet;
      cv::vconcat(std::vector<cv::Mat>{[&] { cv::Mat top; cv::hconcat(panels[0], panels[1], top); return top; }(),
                                       [&] { cv::Mat bottom; cv::hconcat(panels[2], panels[3], bottom); return bottom; }()},
                  sheet);
      write_image_atomic(out + "/" + std::filesystem::path(images[i]).stem().string() + ".png", sheet);
    }
  } catch (const std::exception& e) {
    std::cerr << "dense_maps: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
