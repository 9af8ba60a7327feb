#pragma once
// The generator's drawing surface: every drawn object gets a region (its 1 + C, shared by objects of one
// material) and, if it is a flake, an instance id, or, if it is junk, a junk id; later objects cover earlier
// ones. A soft object (a crystal whose edge is blurred into what lies below it) is blended over the region
// underneath with a per-pixel weight.
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/synth/junk.hpp"

namespace maskterial::synth {

struct Canvas {
  cv::Mat regions;    // CV_8U index into factors
  cv::Mat alpha;      // CV_8U, empty until a soft object is painted: weight (of 255) of `regions` over `under`
  cv::Mat under;      // CV_8U region seen through a soft edge
  cv::Mat instances;  // CV_16U flake instance, 0 = none
  cv::Mat junk;       // CV_16U junk object, 0 = none
  std::vector<Bgr> factors{{1, 1, 1}};
  std::vector<int> classes;          // classes[k - 1] = layer count of instance k
  std::vector<JunkKind> junk_kinds;  // junk_kinds[k - 1] = kind of junk object k

  explicit Canvas(cv::Size size);

  // A new region drawn with `factor`; -1 once 256 regions exist (a full image simply gets no more objects).
  int add_region(const Bgr& factor);
  // A new junk object's id.
  int add_junk(JunkKind kind);

  // Paints `mask` (CV_8U, the size of `roi`) with a region. label > 0: flake instance of that layer count;
  // junk_id > 0: part of that junk object (several paints may share one). Ignores region -1.
  void paint(const cv::Rect& roi, const cv::Mat& mask, int region, int label = 0, int junk_id = 0);
  // The same with a new region of `factor`.
  void paint(const cv::Rect& roi, const cv::Mat& mask, const Bgr& factor, int label = 0, int junk_id = 0);
  // Blends region over what is there with `weight` (CV_8U 0..255, the size of roi); junk, never a flake: it
  // covers flake labels on its `body` (CV_8U, nonzero where the object lies) and wherever its weight is half or
  // more; its junk id is set wherever it changes the image by 1 % or more and no flake is left.
  void paint_soft(const cv::Rect& roi, const cv::Mat& weight, const cv::Mat& body, int region, int junk_id);
};

// Renumbers ids 1..K in order (0 stays 0), dropping those no pixel carries any more; `kinds` follows.
template <class Kind>
void compact_ids(cv::Mat& ids, std::vector<Kind>& kinds);

}  // namespace maskterial::synth
