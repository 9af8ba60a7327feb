#include "canvas.hpp"

#include <algorithm>
#include <cmath>

namespace maskterial::synth {
namespace {

constexpr double kVisibleContrast = 0.01;  // a soft edge shows where it changes the image by 1 % (sensor noise)

}  // namespace

Canvas::Canvas(cv::Size size)
    : regions(size, CV_8U, cv::Scalar(0)), instances(size, CV_16U, cv::Scalar(0)), junk(size, CV_16U, cv::Scalar(0)) {}

int Canvas::add_region(const Bgr& factor) {
  if (factors.size() >= 256) return -1;
  factors.push_back(factor);
  return static_cast<int>(factors.size() - 1);
}

int Canvas::add_junk(JunkKind kind) {
  junk_kinds.push_back(kind);
  return static_cast<int>(junk_kinds.size());
}

void Canvas::paint(const cv::Rect& roi, const cv::Mat& mask, int region, int label, int junk_id) {
  if (region < 0) return;
  regions(roi).setTo(region, mask);
  if (!alpha.empty()) alpha(roi).setTo(255, mask);
  int instance = 0;
  if (label > 0) {
    classes.push_back(label);
    instance = static_cast<int>(classes.size());
  }
  instances(roi).setTo(instance, mask);
  junk(roi).setTo(junk_id, mask);
}

void Canvas::paint(const cv::Rect& roi, const cv::Mat& mask, const Bgr& factor, int label, int junk_id) {
  paint(roi, mask, add_region(factor), label, junk_id);
}

void Canvas::paint_soft(const cv::Rect& roi, const cv::Mat& weight, const cv::Mat& body, int region, int junk_id) {
  if (region < 0) return;
  if (alpha.empty()) {
    alpha = cv::Mat(regions.size(), CV_8U, cv::Scalar(255));
    under = cv::Mat(regions.size(), CV_8U, cv::Scalar(0));
  }
  double strongest = 0;
  for (double f : factors[static_cast<size_t>(region)]) strongest = std::max(strongest, std::abs(f - 1));
  const int visible = static_cast<int>(std::clamp(std::ceil(255 * kVisibleContrast / std::max(strongest, 1e-6)), 1.0, 255.0));
  for (int y = 0; y < roi.height; ++y) {
    const uint8_t* w = weight.ptr<uint8_t>(y);
    const uint8_t* inside = body.ptr<uint8_t>(y);
    uint8_t* r = regions.ptr<uint8_t>(roi.y + y) + roi.x;
    uint8_t* a = alpha.ptr<uint8_t>(roi.y + y) + roi.x;
    uint8_t* u = under.ptr<uint8_t>(roi.y + y) + roi.x;
    uint16_t* instance = instances.ptr<uint16_t>(roi.y + y) + roi.x;
    uint16_t* j = junk.ptr<uint16_t>(roi.y + y) + roi.x;
    for (int x = 0; x < roi.width; ++x) {
      if (w[x] == 0) continue;
      // What shows below is taken as the region on top there (a soft edge over another soft edge is rare).
      u[x] = r[x];
      r[x] = static_cast<uint8_t>(region);
      a[x] = w[x];
      if (w[x] >= 128 || inside[x]) instance[x] = 0;
      if (w[x] >= visible && instance[x] == 0) j[x] = static_cast<uint16_t>(junk_id);
    }
  }
}

template <class Kind>
void compact_ids(cv::Mat& ids, std::vector<Kind>& kinds) {
  std::vector<size_t> area(kinds.size() + 1, 0);
  for (int y = 0; y < ids.rows; ++y) {
    const uint16_t* row = ids.ptr<uint16_t>(y);
    for (int x = 0; x < ids.cols; ++x) ++area[row[x]];
  }
  std::vector<uint16_t> new_id(kinds.size() + 1, 0);
  std::vector<Kind> kept;
  for (size_t id = 1; id < area.size(); ++id)
    if (area[id] > 0) {
      kept.push_back(kinds[id - 1]);
      new_id[id] = static_cast<uint16_t>(kept.size());
    }
  if (kept.size() != kinds.size())
    for (int y = 0; y < ids.rows; ++y) {
      uint16_t* row = ids.ptr<uint16_t>(y);
      for (int x = 0; x < ids.cols; ++x) row[x] = new_id[row[x]];
    }
  kinds = std::move(kept);
}

template void compact_ids<int>(cv::Mat&, std::vector<int>&);
template void compact_ids<JunkKind>(cv::Mat&, std::vector<JunkKind>&);

}  // namespace maskterial::synth
