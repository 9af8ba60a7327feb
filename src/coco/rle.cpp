#include "maskterial/coco/rle.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "maskterial/util/error.hpp"

namespace maskterial::coco {

namespace {

constexpr uint64_t kMaxPixels = std::numeric_limits<uint32_t>::max();  // COCO counts are 32-bit

// The COCO API keeps counts and positions in 32-bit unsigned ints, so larger masks are not representable.
void check_size(int height, int width) {
  if (height < 0 || width < 0) {
    throw Error("RLE size [" + std::to_string(height) + ", " + std::to_string(width) + "] is negative");
  }
  if (static_cast<uint64_t>(height) * static_cast<uint64_t>(width) > kMaxPixels) {
    throw Error("RLE size [" + std::to_string(height) + ", " + std::to_string(width) +
                "] has more pixels than 32-bit COCO counts can hold");
  }
}

uint64_t pixel_count(const Rle& rle) {
  return static_cast<uint64_t>(rle.height) * static_cast<uint64_t>(rle.width);
}

uint64_t counts_sum(const Rle& rle) {
  uint64_t sum = 0;
  for (uint32_t c : rle.counts) sum += c;
  return sum;
}

// Decoding writes exactly h*w pixels, so the runs must cover the mask exactly.
void check_consistent(const Rle& rle) {
  check_size(rle.height, rle.width);
  const uint64_t sum = counts_sum(rle);
  if (sum != pixel_count(rle)) {
    throw Error("RLE counts sum to " + std::to_string(sum) + " but the mask has " +
                std::to_string(pixel_count(rle)) + " pixels");
  }
}

// Walks the runs of one RLE; zero-length runs (only legal first, but tolerated anywhere) are skipped.
class RunCursor {
 public:
  explicit RunCursor(const std::vector<uint32_t>& counts) : counts_(counts) { load(); }
  bool done() const { return index_ >= counts_.size(); }
  uint64_t left() const { return left_; }
  bool value() const { return index_ % 2 == 1; }
  void consume(uint64_t n) {
    left_ -= n;
    if (left_ == 0) {
      ++index_;
      load();
    }
  }

 private:
  void load() {
    while (index_ < counts_.size() && counts_[index_] == 0) ++index_;
    left_ = done() ? 0 : counts_[index_];
  }
  const std::vector<uint32_t>& counts_;
  size_t index_ = 0;
  uint64_t left_ = 0;
};

// Calls visit(length, value_a, value_b) for each maximal stretch where neither mask changes value. Both masks'
// runs cover the same h*w pixels (from_string, encode and decode ensure it), so they end together.
template <typename Visit>
void walk_pair(const Rle& a, const Rle& b, Visit visit) {
  RunCursor ca(a.counts), cb(b.counts);
  while (!ca.done() && !cb.done()) {
    const uint64_t n = std::min(ca.left(), cb.left());
    visit(n, ca.value(), cb.value());
    ca.consume(n);
    cb.consume(n);
  }
}

// Builds canonical counts (first run zeros, no empty runs after it) from a stream of valued stretches.
class CountsBuilder {
 public:
  void add(uint64_t n, bool value) {
    if (n == 0) return;
    if (value != value_) {
      counts_.push_back(0);
      value_ = value;
    }
    counts_.back() += static_cast<uint32_t>(n);
  }
  std::vector<uint32_t> take() { return std::move(counts_); }

 private:
  std::vector<uint32_t> counts_{0};
  bool value_ = false;
};

Rle merge_pair(const Rle& a, const Rle& b, bool intersect) {
  CountsBuilder out;
  walk_pair(a, b, [&](uint64_t n, bool va, bool vb) { out.add(n, intersect ? (va && vb) : (va || vb)); });
  return Rle{a.height, a.width, out.take()};
}

void check_same_size(const Rle& a, const Rle& b, const char* what) {
  if (a.height != b.height || a.width != b.width) {
    throw Error(std::string(what) + ": masks differ in size ([" + std::to_string(a.height) + ", " +
                std::to_string(a.width) + "] vs [" + std::to_string(b.height) + ", " + std::to_string(b.width) +
                "])");
  }
}

bool boxes_overlap(const std::array<double, 4>& d, const std::array<double, 4>& g) {
  const double w = std::min(d[0] + d[2], g[0] + g[2]) - std::max(d[0], g[0]);
  const double h = std::min(d[1] + d[3], g[1] + g[3]) - std::max(d[1], g[1]);
  return w > 0 && h > 0;
}

// --- polygon rasterisation, following rleFrPoly step by step so results match bit for bit ---

constexpr double kPolyScale = 5;
// Bounds the work of the boundary walk (it is linear in the perimeter at 5x resolution).
constexpr double kMaxPolyCoordinate = 1 << 20;

struct Point {
  int x, y;
};

// Visits the dense boundary points of the upsampled polygon in order: each edge is walked along its major axis.
// Points are streamed rather than stored because their number grows with the perimeter at 5x resolution.
template <typename Visit>
void walk_boundary(const std::vector<Point>& vertices, Visit visit) {
  const size_t k = vertices.size();
  for (size_t j = 0; j < k; ++j) {
    int xs = vertices[j].x, xe = vertices[(j + 1) % k].x;
    int ys = vertices[j].y, ye = vertices[(j + 1) % k].y;
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    // Edges are always stepped in increasing major coordinate and the index mirrored back, which is what
    // makes the rounding of the minor coordinate independent of the edge direction.
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    if (dx == 0 && dy == 0) {  // a repeated vertex: pycocotools divides 0 by 0 here (found by fuzz_coco, UB)
      visit(Point{xs, ys});     // only its x is used: the next edge starts at the same point
    } else if (dx >= dy) {
      const double s = static_cast<double>(ye - ys) / dx;
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        visit(Point{t + xs, static_cast<int>(ys + s * t + .5)});
      }
    } else {
      const double s = static_cast<double>(xe - xs) / dy;
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        visit(Point{static_cast<int>(xs + s * t + .5), t + ys});
      }
    }
  }
}

// Column-major positions where the mask toggles: one per column crossing of the boundary, downsampled.
std::vector<uint32_t> toggle_positions(const std::vector<Point>& vertices, int height, int width) {
  std::vector<uint32_t> positions;
  bool first = true;
  Point p{0, 0};
  walk_boundary(vertices, [&](const Point& q) {
    const Point prev = p;
    p = q;
    if (first || q.x == prev.x) {
      first = false;
      return;
    }
    double xd = q.x < prev.x ? q.x : q.x - 1;
    xd = (xd + .5) / kPolyScale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > width - 1) return;
    double yd = std::min(q.y, prev.y);
    yd = (yd + .5) / kPolyScale - .5;
    yd = std::ceil(std::clamp(yd, 0.0, static_cast<double>(height)));
    positions.push_back(static_cast<uint32_t>(static_cast<int64_t>(xd) * height + static_cast<int64_t>(yd)));
  });
  return positions;
}

// Sorted toggle positions to runs; coinciding toggles cancel by folding the following run into the previous.
std::vector<uint32_t> runs_from_toggles(std::vector<uint32_t> positions, uint32_t total) {
  positions.push_back(total);
  std::sort(positions.begin(), positions.end());
  uint32_t previous = 0;
  for (uint32_t& p : positions) {
    const uint32_t here = p;
    p -= previous;
    previous = here;
  }
  std::vector<uint32_t> counts{positions[0]};
  for (size_t j = 1; j < positions.size();) {
    if (positions[j] > 0) {
      counts.push_back(positions[j++]);
    } else if (++j < positions.size()) {
      counts.back() += positions[j++];
    }
  }
  return counts;
}

// --- compressed string form: 5 payload bits per char, 0x20 = more chars follow, offset 48 ---

constexpr int kCharOffset = 48;
constexpr int kMaxCharsPerValue = 7;  // 35 bits hold any signed difference of two 32-bit counts

void append_value(std::string& out, int64_t x) {
  bool more = true;
  while (more) {
    int c = static_cast<int>(x & 0x1f);
    x = (x - c) / 32;  // arithmetic shift by 5, spelled portably
    more = (c & 0x10) ? x != -1 : x != 0;
    if (more) c |= 0x20;
    out.push_back(static_cast<char>(c + kCharOffset));
  }
}

std::string string_error(size_t pos, const std::string& problem) {
  return "RLE counts string at character " + std::to_string(pos) + ": " + problem;
}

int64_t read_value(const std::string& s, size_t& pos) {
  int64_t x = 0;
  for (int k = 0;; ++k) {
    if (pos >= s.size()) throw Error(string_error(pos, "truncated value"));
    if (k == kMaxCharsPerValue) throw Error(string_error(pos, "value too long"));
    const int c = static_cast<unsigned char>(s[pos]) - kCharOffset;
    if (c < 0 || c > 0x3f) throw Error(string_error(pos, "invalid character"));
    ++pos;
    x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
    if (!(c & 0x20)) {
      if (c & 0x10) x -= int64_t{1} << (5 * (k + 1));  // sign-extend
      return x;
    }
  }
}

}  // namespace

Rle encode(const cv::Mat& mask) {
  if (mask.type() != CV_8UC1) throw Error("RLE encode: expected a single-channel 8-bit mask");
  check_size(mask.rows, mask.cols);
  Rle rle{mask.rows, mask.cols, {}};
  bool value = false;
  uint32_t run = 0;
  // Column-major walk of a row-major image; neighbouring columns share cache lines, so this stays one pass.
  // An empty mask has no data pointer to walk from (found by fuzz_coco: offsets to null are undefined).
  for (int x = 0; x < mask.cols && mask.rows > 0; ++x) {
    const uchar* p = mask.data + x;
    for (int y = 0; y < mask.rows; ++y, p += mask.step[0]) {
      const bool v = *p != 0;
      if (v != value) {
        rle.counts.push_back(run);
        run = 0;
        value = v;
      }
      ++run;
    }
  }
  rle.counts.push_back(run);
  return rle;
}

namespace {

// Per label: the end of its last run of ones, so a gap becomes a zero run when the label shows up again.
struct LabelRuns {
  Rle rle;
  uint32_t end = 0;
};

template <typename T>
void collect_label_runs(const cv::Mat& labels, std::map<int64_t, LabelRuns>& runs) {
  uint32_t pos = 0;
  int64_t cached_label = 0;
  LabelRuns* cached = nullptr;  // neighbouring pixels mostly share a label: skip the map lookup then
  for (int x = 0; x < labels.cols; ++x) {
    for (int y = 0; y < labels.rows; ++y, ++pos) {
      const int64_t label = labels.at<T>(y, x);
      if (label == 0) continue;
      if (cached == nullptr || label != cached_label) {
        cached = &runs[label];
        cached_label = label;
      }
      LabelRuns& r = *cached;
      if (r.rle.counts.empty() || r.end != pos) {
        r.rle.counts.push_back(pos - r.end);
        r.rle.counts.push_back(0);
      }
      ++r.rle.counts.back();
      r.end = pos + 1;
    }
  }
}

}  // namespace

std::map<int64_t, Rle> encode_labels(const cv::Mat& labels) {
  check_size(labels.rows, labels.cols);
  std::map<int64_t, LabelRuns> runs;
  switch (labels.type()) {
    case CV_8UC1: collect_label_runs<uint8_t>(labels, runs); break;
    case CV_16UC1: collect_label_runs<uint16_t>(labels, runs); break;
    case CV_32SC1: collect_label_runs<int32_t>(labels, runs); break;
    default: throw Error("RLE encode: expected a single-channel 8-bit, 16-bit or 32-bit label image");
  }
  const uint32_t total = static_cast<uint32_t>(labels.total());
  std::map<int64_t, Rle> result;
  for (auto& [label, r] : runs) {
    if (r.end < total) r.rle.counts.push_back(total - r.end);
    r.rle.height = labels.rows;
    r.rle.width = labels.cols;
    result.emplace(label, std::move(r.rle));
  }
  return result;
}

cv::Mat decode(const Rle& rle) {
  check_consistent(rle);
  cv::Mat mask = cv::Mat::zeros(rle.height, rle.width, CV_8UC1);
  const uint64_t h = static_cast<uint64_t>(rle.height);
  uint64_t pos = 0;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    const uint64_t end = pos + rle.counts[i];
    if (i % 2 == 0) {
      pos = end;
      continue;
    }
    // A run of ones is filled column piece by column piece (column-major runs, row-major image).
    while (pos < end) {
      const int x = static_cast<int>(pos / h), y = static_cast<int>(pos % h);
      const int n = static_cast<int>(std::min<uint64_t>(end - pos, h - y));
      uchar* p = mask.data + static_cast<size_t>(y) * mask.step[0] + x;
      for (int r = 0; r < n; ++r, p += mask.step[0]) *p = 1;
      pos += static_cast<uint64_t>(n);
    }
  }
  return mask;
}

uint64_t area(const Rle& rle) {
  uint64_t sum = 0;
  for (size_t i = 1; i < rle.counts.size(); i += 2) sum += rle.counts[i];
  return sum;
}

std::array<double, 4> to_bbox(const Rle& rle) {
  // rleToBbox ignores a trailing run of zeros and works in 32-bit unsigned arithmetic.
  const size_t m = rle.counts.size() / 2 * 2;
  if (m == 0 || rle.height <= 0 || rle.width <= 0) return {0, 0, 0, 0};
  const uint32_t h = static_cast<uint32_t>(rle.height), w = static_cast<uint32_t>(rle.width);
  uint32_t xs = w, ys = h, xe = 0, ye = 0, cc = 0, x_start = 0;
  for (size_t j = 0; j < m; ++j) {
    cc += rle.counts[j];
    const uint32_t t = cc - static_cast<uint32_t>(j % 2);  // first (even j) or last (odd j) pixel of a 1-run
    const uint32_t y = t % h, x = t / h;
    if (j % 2 == 0) {
      x_start = x;
    } else if (x_start < x) {  // the run wraps into another column, so it spans the full height
      ys = 0;
      ye = h - 1;
    }
    xs = std::min(xs, x);
    xe = std::max(xe, x);
    ys = std::min(ys, y);
    ye = std::max(ye, y);
  }
  return {static_cast<double>(xs), static_cast<double>(ys), static_cast<double>(xe - xs + 1),
          static_cast<double>(ye - ys + 1)};
}

Rle from_bbox(const std::array<double, 4>& bbox, int height, int width) {
  const double xs = bbox[0], xe = xs + bbox[2], ys = bbox[1], ye = ys + bbox[3];
  return from_polygon({xs, ys, xs, ye, xe, ye, xe, ys}, height, width);
}

Rle from_polygon(const std::vector<double>& xy, int height, int width) {
  PolygonBudget budget;
  return from_polygon(xy, height, width, budget);
}

Rle from_polygon(const std::vector<double>& xy, int height, int width, PolygonBudget& budget) {
  check_size(height, width);
  if (xy.size() % 2 != 0) throw Error("polygon has an odd number of coordinates (" + std::to_string(xy.size()) + ")");
  if (xy.size() / 2 > PolygonBudget::kMaxVerticesPerPolygon)
    throw Error("polygon has " + std::to_string(xy.size() / 2) + " vertices, more than the " +
                std::to_string(PolygonBudget::kMaxVerticesPerPolygon) + " one polygon may have");
  if (xy.size() / 2 > budget.vertices) throw Error("the polygons hold too many vertices in all");
  budget.vertices -= xy.size() / 2;
  std::vector<Point> vertices;
  vertices.reserve(xy.size() / 2);
  for (size_t j = 0; j < xy.size(); j += 2) {
    for (double v : {xy[j], xy[j + 1]}) {
      if (!std::isfinite(v) || std::abs(v) > kMaxPolyCoordinate) {
        throw Error("polygon coordinate " + std::to_string(v) + " is not a finite number within +-" +
                    std::to_string(static_cast<int>(kMaxPolyCoordinate)));
      }
    }
    vertices.push_back({static_cast<int>(kPolyScale * xy[j] + .5), static_cast<int>(kPolyScale * xy[j + 1] + .5)});
  }
  const uint32_t total = static_cast<uint32_t>(static_cast<uint64_t>(height) * static_cast<uint64_t>(width));
  if (vertices.empty()) return Rle{height, width, {total}};
  // The boundary walk visits max(|dx|, |dy|) + 1 points per edge: counted before it starts.
  uint64_t steps = 0;
  for (size_t j = 0; j < vertices.size(); ++j) {
    const Point& a = vertices[j];
    const Point& b = vertices[(j + 1) % vertices.size()];
    steps += static_cast<uint64_t>(std::max(std::abs(b.x - a.x), std::abs(b.y - a.y))) + 1;
  }
  if (steps > PolygonBudget::kMaxStepsPerPolygon)
    throw Error("polygon outline too long to rasterise (" + std::to_string(steps / 5) + " pixels, at most " +
                std::to_string(PolygonBudget::kMaxStepsPerPolygon / 5) + ")");
  if (steps > budget.boundary_steps) throw Error("the polygons' outlines are too long to rasterise in all");
  budget.boundary_steps -= steps;
  return Rle{height, width, runs_from_toggles(toggle_positions(vertices, height, width), total)};
}

Rle merge(const std::vector<Rle>& rles, bool intersect) {
  if (rles.empty()) return Rle{};
  Rle result = rles[0];
  for (size_t i = 1; i < rles.size(); ++i) {
    check_same_size(result, rles[i], "RLE merge");
    result = merge_pair(result, rles[i], intersect);
  }
  return result;
}

std::vector<std::vector<double>> iou(const std::vector<Rle>& dt, const std::vector<Rle>& gt,
                                     const std::vector<uint8_t>& gt_is_crowd) {
  if (!gt_is_crowd.empty() && gt_is_crowd.size() != gt.size()) {
    throw Error("RLE iou: " + std::to_string(gt_is_crowd.size()) + " crowd flags for " + std::to_string(gt.size()) +
                " ground-truth masks");
  }
  std::vector<std::array<double, 4>> dt_boxes, gt_boxes;
  for (const Rle& r : dt) dt_boxes.push_back(to_bbox(r));
  for (const Rle& r : gt) gt_boxes.push_back(to_bbox(r));
  std::vector<std::vector<double>> result(dt.size(), std::vector<double>(gt.size(), 0.0));
  for (size_t g = 0; g < gt.size(); ++g) {
    const bool crowd = !gt_is_crowd.empty() && gt_is_crowd[g];
    for (size_t d = 0; d < dt.size(); ++d) {
      check_same_size(dt[d], gt[g], "RLE iou");
      if (!boxes_overlap(dt_boxes[d], gt_boxes[g])) continue;  // cheap reject, as rleIou does via bbIou
      uint64_t inter = 0, uni = 0;
      walk_pair(dt[d], gt[g], [&](uint64_t n, bool vd, bool vg) {
        if (vd && vg) inter += n;
        if (vd || vg) uni += n;
      });
      if (inter == 0) continue;
      // A crowd region may cover many objects: a detection is scored by how much of it lies inside.
      if (crowd) uni = area(dt[d]);
      result[d][g] = static_cast<double>(inter) / static_cast<double>(uni);
    }
  }
  return result;
}

std::string to_string(const Rle& rle) {
  std::string out;
  out.reserve(rle.counts.size() * 2);
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    int64_t x = rle.counts[i];
    if (i > 2) x -= rle.counts[i - 2];  // runs alternate, so same-parity runs are similar: code the difference
    append_value(out, x);
  }
  return out;
}

Rle from_string(const std::string& counts, int height, int width) {
  check_size(height, width);
  const uint64_t total = static_cast<uint64_t>(height) * static_cast<uint64_t>(width);
  Rle rle{height, width, {}};
  uint64_t sum = 0;
  size_t pos = 0;
  while (pos < counts.size()) {
    const size_t start = pos;
    int64_t x = read_value(counts, pos);
    const size_t m = rle.counts.size();
    if (m > 2) x += rle.counts[m - 2];
    if (x < 0 || x > static_cast<int64_t>(kMaxPixels)) {
      throw Error(string_error(start, "run length " + std::to_string(x) + " out of range"));
    }
    sum += static_cast<uint64_t>(x);
    if (sum > total) {
      throw Error(string_error(start, "runs cover more than the " + std::to_string(total) + " pixels of a " +
                                          std::to_string(height) + "x" + std::to_string(width) + " mask"));
    }
    rle.counts.push_back(static_cast<uint32_t>(x));
  }
  if (sum != total) {
    throw Error("RLE counts string covers " + std::to_string(sum) + " of the " + std::to_string(total) +
                " pixels of a " + std::to_string(height) + "x" + std::to_string(width) + " mask");
  }
  return rle;
}

nlohmann::json to_json(const Rle& rle) {
  return nlohmann::json{{"size", {rle.height, rle.width}}, {"counts", to_string(rle)}};
}

namespace {

// An integral JSON number (an integer, or a float without fraction as Python writers sometimes emit) in range.
int64_t json_integral(const nlohmann::json& v, int64_t lo, int64_t hi, const std::string& what) {
  // Only numbers are ever dumped into messages: an arbitrary value could be huge or deeply nested.
  if (!v.is_number()) throw Error(what + " must be an integer, got " + std::string(v.type_name()));
  const auto out_of_range = [&] { return Error(what + " " + v.dump() + " is out of range"); };
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi) || static_cast<int64_t>(u) < lo) throw out_of_range();
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) throw out_of_range();
    return x;
  }
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::floor(d) != d) throw Error(what + " must be an integer, got " + v.dump());
  if (d < static_cast<double>(lo) || d > static_cast<double>(hi)) throw out_of_range();
  return static_cast<int64_t>(d);
}

Rle rle_from_json(const nlohmann::json& seg, int height, int width) {
  if (!seg.contains("size") || !seg.contains("counts")) throw Error("RLE needs both \"size\" and \"counts\"");
  const nlohmann::json& size = seg["size"];
  if (!size.is_array() || size.size() != 2) throw Error("RLE \"size\" must be [height, width]");
  const int64_t h = json_integral(size[0], 0, std::numeric_limits<int>::max(), "RLE height");
  const int64_t w = json_integral(size[1], 0, std::numeric_limits<int>::max(), "RLE width");
  if (h != height || w != width) {
    throw Error("RLE size [" + std::to_string(h) + ", " + std::to_string(w) + "] does not match the image size [" +
                std::to_string(height) + ", " + std::to_string(width) + "]");
  }
  const nlohmann::json& counts = seg["counts"];
  if (counts.is_string()) return from_string(counts.get_ref<const std::string&>(), height, width);
  if (!counts.is_array()) throw Error("RLE \"counts\" must be a string or a list of integers");
  // Uncompressed RLE (COCO uses it for crowd regions): the runs as plain numbers.
  check_size(height, width);
  Rle rle{height, width, {}};
  rle.counts.reserve(counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    rle.counts.push_back(static_cast<uint32_t>(
        json_integral(counts[i], 0, static_cast<int64_t>(kMaxPixels), "RLE counts[" + std::to_string(i) + "]")));
  }
  check_consistent(rle);
  return rle;
}

Rle polygons_from_json(const nlohmann::json& seg, int height, int width, PolygonBudget& budget) {
  // An object made of several parts is the union of its polygons, as annToRLE merges them.
  if (seg.empty()) throw Error("empty polygon list");
  std::vector<Rle> parts;
  for (size_t i = 0; i < seg.size(); ++i) {
    const std::string where = "polygon " + std::to_string(i);
    const nlohmann::json& poly = seg[i];
    if (!poly.is_array()) throw Error(where + " must be a list of numbers [x0, y0, x1, y1, ...]");
    // Fewer than 3 vertices enclose nothing: such a polygon is a mistake, not an empty flake.
    if (poly.size() < 6)
      throw Error(where + " has " + std::to_string(poly.size()) + " coordinates; a polygon needs at least 3 vertices (6 numbers)");
    std::vector<double> xy;
    xy.reserve(poly.size());
    for (const nlohmann::json& v : poly) {
      if (!v.is_number()) throw Error(where + " holds a non-number (" + std::string(v.type_name()) + ")");
      xy.push_back(v.get<double>());
    }
    try {
      parts.push_back(from_polygon(xy, height, width, budget));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  }
  return merge(parts);
}

}  // namespace

Rle segmentation_from_json(const nlohmann::json& segmentation, int height, int width, PolygonBudget& budget) {
  if (segmentation.is_object()) return rle_from_json(segmentation, height, width);
  if (segmentation.is_array()) return polygons_from_json(segmentation, height, width, budget);
  throw Error("segmentation must be an RLE object or a list of polygons, got " +
              std::string(segmentation.type_name()));
}

Rle segmentation_from_json(const nlohmann::json& segmentation, int height, int width) {
  PolygonBudget budget;
  return segmentation_from_json(segmentation, height, width, budget);
}

}  // namespace maskterial::coco
