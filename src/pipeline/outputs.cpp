#include "maskterial/pipeline/outputs.hpp"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/classify/pixel_classifier.hpp"
#include "maskterial/image/jpeg.hpp"
#include "maskterial/score/evidence.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

double round_to(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

// printf into a string of whatever length the values need (a long class name or a huge number never cuts a row).
std::string formatted(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string formatted(const char* format, ...) {
  va_list args, again;
  va_start(args, format);
  va_copy(again, args);
  const int length = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string out(static_cast<size_t>(std::max(length, 0)), '\0');
  std::vsnprintf(out.data(), out.size() + 1, format, again);
  va_end(again);
  return out;
}

// Distinct, colour-blind friendly colours (BGR), cycled by class index.
cv::Scalar class_colour(int class_id) {
  static const cv::Scalar palette[] = {{0, 159, 230}, {233, 180, 86},  {115, 158, 0}, {66, 228, 240},
                                       {178, 114, 0}, {0, 94, 213},    {167, 121, 204}, {255, 255, 255}};
  return palette[(class_id - 1 + 8) % 8];
}

}  // namespace

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

nlohmann::json flake_to_json(const Flake& f) {
  nlohmann::json j = {{"class", f.class_name},
          {"score", round_to(f.score, 6)},
          {"uncertainty", round_to(f.uncertainty, 6)},
          {"class_share", round_to(f.class_share, 4)},
          {"area", f.area},
          {"size", f.size},
          {"center", {f.center[0], f.center[1]}},
          {"bbox", f.bbox},
          {"min_side", round_to(f.min_side, 4)},
          {"max_side", round_to(f.max_side, 4)},
          {"aspect_ratio", round_to(f.aspect_ratio, 4)},
          {"mean_contrast_bgr",
           {round_to(f.mean_contrast_bgr[0], 6), round_to(f.mean_contrast_bgr[1], 6),
            round_to(f.mean_contrast_bgr[2], 6)}},
          {"entropy", round_to(f.entropy, 6)},
          {"false_positive_probability", round_to(f.false_positive_probability, 6)},
          {"segmentation", coco::to_json(f.segmentation)}};
  // What the flake score weighed (pipelines with a segmenter), for the scan store's re-ranking and for review.
  if (!f.evidence.empty() || f.origin == kOriginFaint) j["origin"] = f.origin;
  if (!f.evidence.empty()) {
    nlohmann::json evidence = nlohmann::json::object();
    const auto& names = score::evidence_names();
    for (size_t i = 0; i < names.size() && i < f.evidence.size(); ++i) evidence[names[i]] = round_to(f.evidence[i], 6);
    j["evidence"] = evidence;
  }
  return j;
}

nlohmann::json detection_to_json(const Detection& d) {
  nlohmann::json flakes = nlohmann::json::array();
  for (const auto& f : d.flakes) flakes.push_back(flake_to_json(f));
  nlohmann::json out = {{"image", d.image},
                        {"width", d.width},
                        {"height", d.height},
                        {"background_bgr", d.background_bgr},
                        {"flakes", flakes}};
  if (!d.background_note.empty()) out["ignored_channels"] = d.background_note;
  return out;
}

std::string csv_header() {
  return "image,flake,class,score,uncertainty,area_px,area_um2,center_x,center_y,bbox_x,bbox_y,bbox_w,bbox_h,"
         "min_side_px,max_side_px,aspect_ratio,contrast_b,contrast_g,contrast_r,entropy,"
         "false_positive_probability\n";
}

std::string csv_rows(const Detection& d, double um_per_px) {
  std::string out;
  const std::string image = csv_escape(std::filesystem::path(d.image).filename().string());
  for (size_t i = 0; i < d.flakes.size(); ++i) {
    const Flake& f = d.flakes[i];
    out += image + "," + std::to_string(i) + "," + csv_escape(f.class_name);
    out += formatted(",%.4f,%.4f,%lld,%.2f,%d,%d,%.0f,%.0f,%.0f,%.0f,%.2f,%.2f,%.2f,%.5f,%.5f,%.5f,%.4f,%.4f\n",
                     f.score, f.uncertainty, static_cast<long long>(f.area), f.area * um_per_px * um_per_px,
                     f.center[0], f.center[1], f.bbox[0], f.bbox[1], f.bbox[2], f.bbox[3], f.min_side, f.max_side,
                     f.aspect_ratio, f.mean_contrast_bgr[0], f.mean_contrast_bgr[1], f.mean_contrast_bgr[2],
                     f.entropy, f.false_positive_probability);
  }
  return out;
}

std::vector<cv::Rect> place_labels(const std::vector<cv::Rect>& anchors, const std::vector<cv::Size>& sizes,
                                   const cv::Size& image) {
  const cv::Rect frame(cv::Point(0, 0), image);
  std::vector<cv::Rect> placed(anchors.size());
  std::vector<cv::Rect> taken;
  for (size_t i = 0; i < anchors.size(); ++i) {
    const cv::Rect& a = anchors[i];
    const int w = sizes[i].width, h = sizes[i].height, gap = 3;
    std::vector<cv::Point> spots = {{a.x, a.y - h - gap},         {a.x, a.br().y + gap},
                                    {a.br().x - w, a.y - h - gap}, {a.br().x - w, a.br().y + gap},
                                    {a.br().x + gap, a.y},        {a.x - w - gap, a.y}};
    for (int level = 2; level <= 6; ++level) spots.push_back({a.x, a.y - level * (h + gap)});
    for (const cv::Point& spot : spots) {
      const cv::Rect r(spot, sizes[i]);
      if ((r & frame) != r) continue;
      if (std::any_of(taken.begin(), taken.end(), [&](const cv::Rect& t) { return (t & r).area() > 0; })) continue;
      placed[i] = r;
      taken.push_back(r);
      break;
    }
  }
  return placed;
}

cv::Mat render_overlay(const cv::Mat& bgr8, const Detection& d) {
  cv::Mat overlay = bgr8.clone();
  const int thickness = std::max(1, bgr8.cols / 640);
  const double font_scale = 0.5 * thickness;
  std::vector<cv::Rect> anchors;
  std::vector<cv::Size> sizes;
  std::vector<std::string> labels;
  std::vector<int> baselines;
  for (size_t i = 0; i < d.flakes.size(); ++i) {
    const Flake& f = d.flakes[i];
    const cv::Mat mask = coco::decode(f.segmentation);
    // Contours of the flake's bounding box only: the same outline, without scanning the whole image.
    const cv::Rect box = cv::Rect(cv::Point(static_cast<int>(f.bbox[0]), static_cast<int>(f.bbox[1])),
                                  cv::Point(static_cast<int>(std::ceil(f.bbox[0] + f.bbox[2])),
                                            static_cast<int>(std::ceil(f.bbox[1] + f.bbox[3])))) &
                         cv::Rect(0, 0, mask.cols, mask.rows);
    std::vector<std::vector<cv::Point>> contours;
    if (box.area() > 0)
      cv::findContours(mask(box), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE, box.tl());
    cv::drawContours(overlay, contours, -1, class_colour(f.class_id), thickness, cv::LINE_AA);
    // Rank (the CSV's flake column), class, score and uncertainty: a high u (far from the class) marks a flake
    // to check by eye.
    labels.push_back(formatted("#%zu %s (%.2f, u %.1f)", i, f.class_name.c_str(), f.score, f.uncertainty));
    int baseline = 0;
    const cv::Size text = cv::getTextSize(labels.back(), cv::FONT_HERSHEY_SIMPLEX, font_scale, thickness + 2, &baseline);
    anchors.push_back(box);
    sizes.push_back({text.width, text.height + baseline});
    baselines.push_back(baseline);
  }
  // Labels after every outline, best flakes first, none on top of another.
  const std::vector<cv::Rect> spots = place_labels(anchors, sizes, overlay.size());
  for (size_t i = 0; i < spots.size(); ++i) {
    if (spots[i].empty()) continue;
    const cv::Point at(spots[i].x, spots[i].y + spots[i].height - baselines[i]);
    const cv::Scalar colour = class_colour(d.flakes[i].class_id);
    cv::putText(overlay, labels[i], at, cv::FONT_HERSHEY_SIMPLEX, font_scale, cv::Scalar(0, 0, 0), thickness + 2,
                cv::LINE_AA);
    cv::putText(overlay, labels[i], at, cv::FONT_HERSHEY_SIMPLEX, font_scale, colour, thickness, cv::LINE_AA);
  }
  return overlay;
}

OverlayFormat parse_overlay_format(const std::string& name) {
  if (name == "jpeg") return OverlayFormat::Jpeg;
  if (name == "png") return OverlayFormat::Png;
  throw Error("overlay format must be jpeg or png, got '" + name + "'");
}

const char* overlay_extension(OverlayFormat format) { return format == OverlayFormat::Jpeg ? ".jpg" : ".png"; }

std::vector<uchar> encode_overlay(const cv::Mat& bgr8, const Detection& detection, OverlayFormat format) {
  const cv::Mat overlay = render_overlay(bgr8, detection);
  if (format == OverlayFormat::Jpeg) return encode_jpeg(overlay, kOverlayJpegQuality);  // OpenCV's bytes, faster
  std::vector<uchar> bytes;
  if (!cv::imencode(overlay_extension(format), overlay, bytes)) throw Error("overlay encoding failed");
  return bytes;
}

int64_t category_id_of(const Flake& f) {
  return category_label({static_cast<uint8_t>(f.class_id), f.class_name});
}

std::vector<coco::Annotation> to_coco_results(const Detection& d, int64_t image_id) {
  std::vector<coco::Annotation> results;
  for (const auto& f : d.flakes) {
    coco::Annotation a;
    a.image_id = image_id;
    a.category_id = category_id_of(f);
    a.segmentation = f.segmentation;
    a.area = static_cast<double>(f.area);
    a.bbox = f.bbox;
    a.score = f.score;
    results.push_back(std::move(a));
  }
  return results;
}

}  // namespace maskterial
