#include "maskterial/pipeline/gmm_detector.hpp"

#include <chrono>

#include <opencv2/imgproc.hpp>

#include "maskterial/pipeline/components.hpp"
#include "maskterial/pipeline/flake_measure.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point& t) {
  const auto now = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - t).count();
  t = now;
  return ms;
}

// A component's box grown by one pixel, so contours are traced as on the whole image.
cv::Rect padded(const cv::Rect& box, const cv::Size& size) {
  return cv::Rect(box.x - 1, box.y - 1, box.width + 2, box.height + 2) & cv::Rect(cv::Point(0, 0), size);
}

void finish_flake(Flake& flake, const GmmClassifier& gmm, int class_index) {
  flake.class_id = class_index;
  flake.class_name = gmm.classes()[class_index - 1].name;
  // How far the flake's mean colour is from its class, in standard deviations: large = doubtful label.
  flake.uncertainty = gmm.distance(flake.mean_contrast_bgr, class_index - 1);
}

}  // namespace

GmmDetector::GmmDetector(GmmClassifier classifier, GmmDetectorOptions options, cv::Mat flat_field)
    : classifier_(std::move(classifier)), options_(options), flat_field_(std::move(flat_field)) {
  if (classifier_.classes().empty()) throw Error("GMM detector: the classifier has no classes");
  if (options_.std_threshold <= 0) throw Error("GMM detector: std threshold must be positive");
  if (options_.size_threshold < 1) throw Error("GMM detector: size threshold must be at least 1 px");
}

Detection GmmDetector::detect(const cv::Mat& input, const std::string& name, DetectTimings* timings) const {
  auto t = Clock::now();
  DetectTimings local;
  DetectTimings& time = timings ? *timings : local;

  cv::Mat image = input;
  if (!flat_field_.empty()) image = apply_flat_field(image, flat_field_);
  if (options_.rules == GmmRules::TwoDMatGmm) {
    cv::Mat blurred;
    cv::medianBlur(image, blurred, 5);
    image = blurred;
  }
  time.preprocess_ms = ms_since(t);

  Detection out;
  out.image = name;
  out.width = input.cols;
  out.height = input.rows;
  out.background_bgr = estimate_background(image, BackgroundRule::inference());
  time.background_ms = ms_since(t);
  if (!has_valid_background(out.background_bgr))
    throw Error(name + ": no substrate background found (image too dark or saturated)");

  const cv::Mat labels = classifier_.classify(image, out.background_bgr, options_.std_threshold);
  time.classify_ms = ms_since(t);

  if (options_.rules == GmmRules::TwoDMatGmm)
    extract_2dmatgmm(labels, image, out.background_bgr, out);
  else
    extract_maskterial(labels, image, out.background_bgr, out);
  time.components_ms = ms_since(t);

  std::vector<Flake> kept;
  for (auto& f : out.flakes)
    if (f.score >= options_.min_score) kept.push_back(std::move(f));
  out.flakes = std::move(kept);
  return out;
}

void GmmDetector::extract_2dmatgmm(const cv::Mat& labels, const cv::Mat& image, const Bgr& background,
                                   Detection& out) const {
  static const cv::Mat disk2 = disk_kernel(2);
  const FlakeSource source{image, background};
  for (int k = 1; k <= static_cast<int>(classifier_.classes().size()); ++k) {
    cv::Mat layer = labels == k;
    cv::morphologyEx(layer, layer, cv::MORPH_OPEN, disk2);
    if (cv::countNonZero(layer) < options_.size_threshold) continue;
    for (const Component& component : connected_components(layer, 4)) {
      if (component.area < options_.size_threshold) continue;
      const cv::Rect roi = padded(component.box, labels.size());
      cv::Mat mask = render_component(component, roi);
      std::vector<std::vector<cv::Point>> contours;
      std::vector<cv::Vec4i> hierarchy;
      cv::findContours(mask, contours, hierarchy, cv::RETR_TREE, cv::CHAIN_APPROX_NONE, roi.tl());
      std::vector<std::vector<cv::Point>> outer;
      for (size_t i = 0; i < contours.size(); ++i)
        if (hierarchy[i][3] == -1) outer.push_back(contours[i]);
      if (outer.empty()) continue;
      cv::drawContours(mask, outer, -1, 255, cv::FILLED, cv::LINE_8, cv::noArray(), INT_MAX, -roi.tl());
      Flake flake = measure_flake(source, mask, roi, outer[0]);
      flake.size = component.area;
      finish_flake(flake, classifier_, k);
      out.flakes.push_back(std::move(flake));
    }
  }
}

void GmmDetector::extract_maskterial(const cv::Mat& labels, const cv::Mat& image, const Bgr& background,
                                     Detection& out) const {
  const cv::Mat square3 = cv::Mat::ones(3, 3, CV_8U);
  const FlakeSource source{image, background};
  for (int k = 1; k <= static_cast<int>(classifier_.classes().size()); ++k) {
    cv::Mat layer = labels == k;
    cv::morphologyEx(layer, layer, cv::MORPH_OPEN, square3, cv::Point(-1, -1), 2);
    if (cv::countNonZero(layer) < options_.size_threshold) continue;
    std::vector<Component> kept;
    for (auto& component : connected_components(layer, 4))
      if (component.area >= options_.size_threshold) kept.push_back(std::move(component));
    // MaskTerial traces outer contours of all kept components together: components touching diagonally
    // become one flake, and one lying in another's hole is swallowed by it.
    std::vector<std::vector<cv::Point>> outlines;
    std::vector<cv::Rect> boxes;
    for (const Component& group : merge_touching(kept, 8)) {
      const cv::Rect roi = padded(group.box, labels.size());
      std::vector<std::vector<cv::Point>> contours;
      cv::findContours(render_component(group, roi), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE, roi.tl());
      if (!contours.empty()) {
        outlines.push_back(std::move(contours.front()));
        boxes.push_back(group.box);
      }
    }
    for (size_t i = 0; i < outlines.size(); ++i) {
      bool inside_other = false;
      for (size_t j = 0; j < outlines.size() && !inside_other; ++j)
        inside_other = j != i && (boxes[j] & boxes[i]) == boxes[i] &&
                       cv::pointPolygonTest(outlines[j], outlines[i].front(), false) > 0;
      if (inside_other) continue;
      const cv::Rect box = cv::boundingRect(outlines[i]);
      cv::Mat mask = cv::Mat::zeros(box.size(), CV_8U);
      cv::drawContours(mask, outlines, static_cast<int>(i), 255, cv::FILLED, cv::LINE_8, cv::noArray(), INT_MAX,
                       -box.tl());
      if (cv::countNonZero(mask) < options_.size_threshold) continue;
      Flake flake = measure_flake(source, mask, box, outlines[i]);
      const cv::Moments m = cv::moments(outlines[i]);
      if (m.m00 > 0) flake.center = {static_cast<int>(m.m10 / m.m00), static_cast<int>(m.m01 / m.m00)};
      finish_flake(flake, classifier_, k);
      out.flakes.push_back(std::move(flake));
    }
  }
}

}  // namespace maskterial
