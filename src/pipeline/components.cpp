#include "maskterial/pipeline/components.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace maskterial {
namespace {

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  }
  void unite(int a, int b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);  // keep the earlier run as root
  }
};

// Links runs of adjacent rows that touch; runs must be sorted by (y, x0).
std::vector<Component> group_runs(const std::vector<PixelRun>& runs, int connectivity) {
  const int reach = connectivity == 8 ? 1 : 0;
  UnionFind sets(runs.size());
  size_t prev_begin = 0, prev_end = 0;  // runs of the previous row
  for (size_t i = 0; i < runs.size();) {
    size_t row_end = i;
    while (row_end < runs.size() && runs[row_end].y == runs[i].y) ++row_end;
    const bool adjacent = prev_end > prev_begin && runs[prev_begin].y == runs[i].y - 1;
    if (adjacent) {
      size_t p = prev_begin;
      for (size_t r = i; r < row_end; ++r) {
        while (p < prev_end && runs[p].x1 + reach <= runs[r].x0) ++p;
        for (size_t q = p; q < prev_end && runs[q].x0 < runs[r].x1 + reach; ++q) sets.unite(int(r), int(q));
      }
    }
    prev_begin = i;
    prev_end = row_end;
    i = row_end;
  }
  // Roots are the earliest run of each set, i.e. its first pixel in raster order.
  std::vector<int> index_of_root(runs.size(), -1);
  std::vector<Component> components;
  for (size_t r = 0; r < runs.size(); ++r) {
    const int root = sets.find(int(r));
    if (index_of_root[root] < 0) {
      index_of_root[root] = int(components.size());
      components.emplace_back();
    }
    Component& c = components[index_of_root[root]];
    c.runs.push_back(runs[r]);
    c.area += runs[r].x1 - runs[r].x0;
    const cv::Rect run_box(runs[r].x0, runs[r].y, runs[r].x1 - runs[r].x0, 1);
    c.box = c.box.area() == 0 ? run_box : (c.box | run_box);
  }
  return components;
}

}  // namespace

std::vector<Component> connected_components(const cv::Mat& mask, int connectivity, cv::Point origin) {
  CV_Assert(mask.type() == CV_8U && (connectivity == 4 || connectivity == 8));
  std::vector<PixelRun> runs;
  for (int y = 0; y < mask.rows; ++y) {
    const uint8_t* row = mask.ptr<uint8_t>(y);
    int x = 0;
    while (x < mask.cols) {
      // Skip zeros eight at a time: the masks are mostly empty.
      while (x + 8 <= mask.cols) {
        uint64_t word;
        std::memcpy(&word, row + x, 8);
        if (word) break;
        x += 8;
      }
      while (x < mask.cols && !row[x]) ++x;
      if (x >= mask.cols) break;
      const int start = x;
      while (x < mask.cols && row[x]) ++x;
      runs.push_back({y + origin.y, start + origin.x, x + origin.x});
    }
  }
  return group_runs(runs, connectivity);
}

std::vector<ClassExtent> class_extents(const cv::Mat& labels) {
  CV_Assert(labels.type() == CV_8U);
  std::vector<int> x0(256, labels.cols), x1(256, -1), y0(256, labels.rows), y1(256, -1);
  std::vector<int64_t> pixels(256, 0);
  for (int y = 0; y < labels.rows; ++y) {
    const uint8_t* row = labels.ptr<uint8_t>(y);
    for (int x = 0; x < labels.cols; ++x) {
      // Skip background eight pixels at a time: most of a scan image is substrate.
      while (x + 8 <= labels.cols) {
        uint64_t word;
        std::memcpy(&word, row + x, 8);
        if (word) break;
        x += 8;
      }
      if (x >= labels.cols) break;
      const uint8_t id = row[x];
      if (!id) continue;
      ++pixels[id];
      x0[id] = std::min(x0[id], x);
      x1[id] = std::max(x1[id], x);
      y0[id] = std::min(y0[id], y);
      y1[id] = y;
    }
  }
  std::vector<ClassExtent> extents(256);
  for (int id = 1; id < 256; ++id)
    if (pixels[id]) extents[id] = {pixels[id], cv::Rect(cv::Point(x0[id], y0[id]), cv::Point(x1[id] + 1, y1[id] + 1))};
  return extents;
}

std::vector<Component> merge_touching(const std::vector<Component>& components, int connectivity) {
  std::vector<PixelRun> runs;
  for (const auto& c : components) runs.insert(runs.end(), c.runs.begin(), c.runs.end());
  std::sort(runs.begin(), runs.end(),
            [](const PixelRun& a, const PixelRun& b) { return a.y != b.y ? a.y < b.y : a.x0 < b.x0; });
  return group_runs(runs, connectivity);
}

cv::Mat render_component(const Component& component, const cv::Rect& roi) {
  cv::Mat out = cv::Mat::zeros(roi.size(), CV_8U);
  for (const auto& run : component.runs) {
    uint8_t* row = out.ptr<uint8_t>(run.y - roi.y);
    std::fill(row + (run.x0 - roi.x), row + (run.x1 - roi.x), 255);
  }
  return out;
}

}  // namespace maskterial
