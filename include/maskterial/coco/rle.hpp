#pragma once
// COCO run-length encoding, byte-identical to the official COCO mask API (pycocotools maskApi.c):
// runs are counted in column-major (Fortran) order starting with a run of zeros, and the compressed string
// form is its LEB128-like 5-bit/char code, each run from the fourth on (index 3) coded as the difference to
// the run two before it.
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

namespace maskterial::coco {

struct Rle {
  int height = 0;
  int width = 0;
  std::vector<uint32_t> counts;  // alternating runs of 0s and 1s, column-major, first run is 0s
  bool operator==(const Rle& other) const {
    return height == other.height && width == other.width && counts == other.counts;
  }
};

// mask: CV_8U, any nonzero pixel is foreground (row-major cv::Mat; runs are produced column-major).
Rle encode(const cv::Mat& mask);
// One RLE per nonzero label of a label image (CV_8U, CV_16U or CV_32S, e.g. an instance-id mask), each equal to
// encode(labels == label), computed in a single pass over the image.
std::map<int64_t, Rle> encode_labels(const cv::Mat& labels);
// Returns a CV_8U mask of 0/1 values.
cv::Mat decode(const Rle& rle);

uint64_t area(const Rle& rle);
// [x, y, w, h] exactly as rleToBbox computes it (doubles holding integers).
std::array<double, 4> to_bbox(const Rle& rle);
Rle from_bbox(const std::array<double, 4>& bbox, int height, int width);
// What rasterising polygons may cost. Checked on the vertices before any outline is walked: the walk is linear
// in the perimeter at 5x resolution (about 130 M points a second), so a few long edges cost as much as millions
// of vertices (a 14 MB COCO file of one 1 M-vertex polygon took 92 s). Every polygon is bounded; the totals
// bound one COCO file or upload where a caller sets them (the server does: kUploadPolygonBudget). The bounds
// are far above drawn outlines: a flake's polygon has tens to thousands of vertices and a perimeter of at most
// a few thousand pixels.
struct PolygonBudget {
  static constexpr uint64_t kMaxVerticesPerPolygon = 100'000;
  static constexpr uint64_t kMaxStepsPerPolygon = 50'000'000;  // points of the upsampled outline, ~0.4 s
  uint64_t vertices = UINT64_MAX;                              // left for all polygons together
  uint64_t boundary_steps = UINT64_MAX;
};
// What one upload to the server may cost: under a second of rasterising.
constexpr PolygonBudget kUploadPolygonBudget{2'000'000, 100'000'000};

// One polygon [x0, y0, x1, y1, ...] rasterised exactly as rleFrPoly (upsampling by 5, etc.); Error when it
// exceeds the bounds per polygon or what is left of budget, which it spends.
Rle from_polygon(const std::vector<double>& xy, int height, int width, PolygonBudget& budget);
Rle from_polygon(const std::vector<double>& xy, int height, int width);  // with a budget of its own
// Union (intersect = false) or intersection of masks of equal size.
Rle merge(const std::vector<Rle>& rles, bool intersect = false);
// IoU matrix [dt.size()][gt.size()] as rleIou: for crowd gt the denominator is the detection's area.
std::vector<std::vector<double>> iou(const std::vector<Rle>& dt, const std::vector<Rle>& gt,
                                     const std::vector<uint8_t>& gt_is_crowd);

// The compressed "counts" string of the COCO API (rleToString / rleFrString).
std::string to_string(const Rle& rle);
Rle from_string(const std::string& counts, int height, int width);  // throws Error on malformed input

// JSON forms: {"size": [h, w], "counts": "<string>"}.
nlohmann::json to_json(const Rle& rle);
// Accepts compressed RLE, uncompressed RLE ({"size", "counts": [ints]}) and polygon lists
// ([[x0, y0, ...], ...], at least 3 vertices each, needs height/width; rasterised within budget). Throws Error
// with a description on malformed input.
Rle segmentation_from_json(const nlohmann::json& segmentation, int height, int width, PolygonBudget& budget);
Rle segmentation_from_json(const nlohmann::json& segmentation, int height, int width);  // with a budget of its own

}  // namespace maskterial::coco
