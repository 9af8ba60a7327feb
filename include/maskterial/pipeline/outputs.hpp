#pragma once
// What a detection run leaves behind for people and programs: a JSON record per image, one CSV of all flakes
// for spreadsheets, overlay images to look at (JPEG by default: a 1920×1200 PNG takes ~100 ms to compress,
// more than the detection), and a COCO results file for evaluation.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/core/flake.hpp"

namespace maskterial {

constexpr double kDefaultMicronsPerPixel = 0.3844;  // 20x objective of the reference setup

nlohmann::json flake_to_json(const Flake& flake);
nlohmann::json detection_to_json(const Detection& detection);

std::string csv_header();
// A CSV field, quoted where it holds a comma, quote or line break.
std::string csv_escape(const std::string& s);
// One row per flake; area also in µm² using microns_per_pixel.
std::string csv_rows(const Detection& detection, double microns_per_pixel);

// Image with flake outlines coloured by class and a label (class, score) next to each.
cv::Mat render_overlay(const cv::Mat& bgr8, const Detection& detection);

// Where the overlay's labels go: for each flake in rank order (anchor = its box, size = its label's), the first
// free spot above, below, beside or stacked above its box, inside the image and clear of every label placed
// before; an empty Rect when there is none (the outline is drawn without a label).
std::vector<cv::Rect> place_labels(const std::vector<cv::Rect>& anchors, const std::vector<cv::Size>& sizes,
                                   const cv::Size& image);

enum class OverlayFormat { Jpeg, Png };
constexpr int kOverlayJpegQuality = 90;
OverlayFormat parse_overlay_format(const std::string& name);  // "jpeg" or "png"; Error otherwise
const char* overlay_extension(OverlayFormat format);          // ".jpg", ".png"
// The rendered overlay as file bytes.
std::vector<uchar> encode_overlay(const cv::Mat& bgr8, const Detection& detection, OverlayFormat format);

// COCO category id of a class: its name if that is an integer (layer count), else its 1-based index.
int64_t category_id_of(const Flake& flake);
std::vector<coco::Annotation> to_coco_results(const Detection& detection, int64_t image_id);

}  // namespace maskterial
