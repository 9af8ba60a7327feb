#pragma once
// Connected components of sparse binary masks as pixel runs. A flake class covers well under 1% of a scan
// image, so labelling runs (union-find on overlapping runs of neighbouring rows) costs a fraction of
// OpenCV's full-image label map (about 13 ms per class on a 1920x1200 image here).
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace maskterial {

struct PixelRun {
  int y, x0, x1;  // pixels [x0, x1) of row y
};

struct Component {
  std::vector<PixelRun> runs;  // sorted by row, then column
  int64_t area = 0;
  cv::Rect box;
};

// Components in the order OpenCV's connectedComponents numbers them (raster order of their first pixel).
// connectivity: 4 or 8. origin: where mask's top-left pixel lies in the image the components are reported in
// (mask a crop of it).
std::vector<Component> connected_components(const cv::Mat& mask, int connectivity, cv::Point origin = {0, 0});

// Where each class of a label map lies: its pixel count and the box around its pixels (empty for an absent
// class). One pass over the map, so the per-class work can skip absent classes and stay inside their boxes.
struct ClassExtent {
  int64_t pixels = 0;
  cv::Rect box;
};
std::vector<ClassExtent> class_extents(const cv::Mat& labels);  // CV_8U labels; indexed by class id (256)

// Merges components whose pixels touch under `connectivity` (used to group kept 4-components by 8-adjacency).
std::vector<Component> merge_touching(const std::vector<Component>& components, int connectivity);

// CV_8U mask of the component (255 inside) covering `roi`, which must contain its box.
cv::Mat render_component(const Component& component, const cv::Rect& roi);

}  // namespace maskterial
