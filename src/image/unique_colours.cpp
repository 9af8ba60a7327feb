#include "maskterial/image/unique_colours.hpp"

#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

// Open addressing on 24-bit keys; the table doubles before it is half full.
class ColourTable {
 public:
  ColourTable() { resize(1u << 16); }

  int32_t find_or_add(uint32_t key, std::vector<uint32_t>& colours) {
    for (uint32_t slot = hash(key);; slot = (slot + 1) & mask_) {
      if (keys_[slot] == key) return values_[slot];
      if (keys_[slot] == kEmpty) {
        const auto value = static_cast<int32_t>(colours.size());
        colours.push_back(key);
        keys_[slot] = key;
        values_[slot] = value;
        if (2 * colours.size() > keys_.size()) grow(colours);
        return value;
      }
    }
  }

 private:
  static constexpr uint32_t kEmpty = 0xffffffffu;
  uint32_t hash(uint32_t key) const { return (key * 0x9e3779b1u) >> shift_; }
  void resize(uint32_t capacity) {
    keys_.assign(capacity, kEmpty);
    values_.assign(capacity, 0);
    mask_ = capacity - 1;
    shift_ = 32 - static_cast<uint32_t>(__builtin_ctz(capacity));
  }
  void grow(const std::vector<uint32_t>& colours) {
    resize(static_cast<uint32_t>(keys_.size() * 2));
    for (size_t i = 0; i < colours.size(); ++i) {
      uint32_t slot = hash(colours[i]);
      while (keys_[slot] != kEmpty) slot = (slot + 1) & mask_;
      keys_[slot] = colours[i];
      values_[slot] = static_cast<int32_t>(i);
    }
  }

  std::vector<uint32_t> keys_;
  std::vector<int32_t> values_;
  uint32_t mask_ = 0, shift_ = 0;
};

}  // namespace

UniqueColours unique_colours(const cv::Mat& bgr8, const cv::Mat& roi) {
  if (bgr8.type() != CV_8UC3) throw Error("unique_colours: expected an 8-bit BGR image");
  if (!roi.empty() && (roi.type() != CV_8U || roi.size() != bgr8.size()))
    throw Error("unique_colours: roi must be an 8-bit mask of the image's size");
  UniqueColours out;
  out.index.create(bgr8.size(), CV_32S);
  ColourTable table;
  for (int y = 0; y < bgr8.rows; ++y) {
    const uint8_t* p = bgr8.ptr<uint8_t>(y);
    const uint8_t* inside = roi.empty() ? nullptr : roi.ptr<uint8_t>(y);
    int32_t* index = out.index.ptr<int32_t>(y);
    uint32_t last_key = 0xffffffffu;
    int32_t last_index = -1;
    for (int x = 0; x < bgr8.cols; ++x, p += 3) {
      if (inside && !inside[x]) {
        index[x] = -1;
        continue;
      }
      const uint32_t key = p[0] | (p[1] << 8) | (p[2] << 16);
      if (key != last_key) {  // neighbours often share a colour: skip the table for runs
        last_key = key;
        last_index = table.find_or_add(key, out.colours);
      }
      index[x] = last_index;
    }
  }
  return out;
}

}  // namespace maskterial
