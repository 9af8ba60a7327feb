#include "maskterial/image/contrast.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

using Histograms = std::array<std::array<uint64_t, 256>, 3>;

Histograms channel_histograms(const cv::Mat& bgr8) {
  std::array<std::array<uint64_t, 256>, 3> hist{};
  for (int y = 0; y < bgr8.rows; ++y) {
    const uint8_t* p = bgr8.ptr<uint8_t>(y);
    for (int x = 0; x < bgr8.cols; ++x, p += 3) {
      ++hist[0][p[0]];
      ++hist[1][p[1]];
      ++hist[2][p[2]];
    }
  }
  return hist;
}

int histogram_mode(const std::array<uint64_t, 256>& hist, int lo, int hi) {
  int mode = lo;
  for (int v = lo; v <= hi; ++v)
    if (hist[v] > hist[mode]) mode = v;  // first maximum wins, as numpy's argmax
  return mode;
}

uint64_t count_in(const std::array<uint64_t, 256>& hist, int lo, int hi) {
  uint64_t n = 0;
  for (int v = std::max(lo, 0); v <= std::min(hi, 255); ++v) n += hist[v];
  return n;
}

// The state of one channel, and the range its substrate mode is searched in when measured.
struct ChannelSearch {
  ChannelState state = ChannelState::Measured;
  int lo = 0, hi = 255;
};

ChannelSearch channel_search(const std::array<uint64_t, 256>& hist, const BackgroundRule& rule) {
  const int lo = kDarkLevel + 1, hi = kSaturatedLevel - 1;
  const int mode = histogram_mode(hist, lo, hi);
  // The substrate's peak counted wide (camera noise spreads it over more than the averaging radius), so a bright
  // crystal or a marker covering a good part of the image is not taken for a clipped substrate.
  const int wide = 3 * std::max(rule.radius, 5);
  const uint64_t around = count_in(hist, std::max(lo, mode - wide), std::min(hi, mode + wide));
  const uint64_t top = count_in(hist, kSaturatedLevel, 255), bottom = count_in(hist, 0, kDarkLevel);
  // Most of a scan is bare substrate: if a clip band holds more pixels than the substrate's own peak, the
  // substrate is in that band.
  if (top > around && top >= bottom) return {ChannelState::Saturated};
  if (bottom > around || around == 0) return {ChannelState::Dark};
  // The reference range whenever the substrate lies in it, so its results stay bit for bit.
  if (mode >= rule.min_value && mode <= rule.max_value) return {ChannelState::Measured, rule.min_value, rule.max_value};
  return {ChannelState::Measured, lo, hi};
}

// Independent channels: mean of the values within [mode - r, mode + r] clipped to the search range.
double independent_channel_level(const std::array<uint64_t, 256>& hist, const ChannelSearch& search, int radius) {
  const int mode = histogram_mode(hist, search.lo, search.hi);
  const int lo = std::max(search.lo, mode - radius);
  const int hi = std::min(search.hi, mode + radius);
  uint64_t sum = 0, count = 0;
  for (int v = lo; v <= hi; ++v) {
    sum += hist[v] * static_cast<uint64_t>(v);
    count += hist[v];
  }
  // The reference stores the mean as float32; keep that rounding so contrasts match bit for bit.
  return count ? static_cast<float>(static_cast<double>(sum) / static_cast<double>(count)) : 0.0;
}

// Per-channel masks of the measured channels eroded and intersected, so only pixels that are background in
// all of them, away from edges, are averaged. False when that leaves no pixel.
bool joint_mask_background(const cv::Mat& bgr8, const Histograms& hist, const std::array<ChannelSearch, 3>& search,
                           const BackgroundRule& rule, Bgr& colour) {
  std::vector<cv::Mat> channels;
  cv::split(bgr8, channels);
  cv::Mat joint;
  for (int c = 0; c < 3; ++c) {
    if (search[c].state != ChannelState::Measured) continue;
    const int mode = histogram_mode(hist[c], search[c].lo, search[c].hi);
    cv::Mat near_mode;
    cv::inRange(channels[c], mode - rule.radius, mode + rule.radius, near_mode);
    cv::erode(near_mode, near_mode, cv::Mat::ones(3, 3, CV_8U), cv::Point(-1, -1), rule.erode_iterations);
    joint = joint.empty() ? near_mode : (joint & near_mode);
  }
  if (joint.empty() || cv::countNonZero(joint) == 0) return false;
  const cv::Scalar mean = cv::mean(bgr8, joint);
  for (int c = 0; c < 3; ++c)
    if (search[c].state == ChannelState::Measured) colour[c] = mean[c];
  return true;
}

const char* const kChannelNames[3] = {"blue", "green", "red"};

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i)
    out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return out;
}

// "blue and red are saturated (255) on 72 and 80 % of the image"
std::string state_phrase(const BackgroundEstimate& e, ChannelState state) {
  std::vector<std::string> names, shares;
  for (int c = 0; c < 3; ++c) {
    if (e.state[c] != state) continue;
    names.push_back(kChannelNames[c]);
    const double share = state == ChannelState::Saturated ? e.saturated_share[c] : e.dark_share[c];
    shares.push_back(std::to_string(static_cast<int>(std::lround(100 * share))));
  }
  if (names.empty()) return {};
  if (std::all_of(shares.begin(), shares.end(), [&](const std::string& x) { return x == shares.front(); }))
    shares.resize(1);
  const bool saturated = state == ChannelState::Saturated;
  return joined(names) + (names.size() == 1 ? " is " : " are ") +
         (saturated ? "saturated (255)" : "black (0, too dark)") + " on " + joined(shares) + " % of the image";
}

}  // namespace

std::string channel_list(const ChannelMask& channels) {
  std::vector<std::string> names;
  for (int c = 0; c < 3; ++c)
    if (channels[c]) names.push_back(kChannelNames[c]);
  return names.empty() ? "no channel" : joined(names);
}

ChannelMask measured_channels(const std::array<double, 3>& coverage) {
  ChannelMask out{};
  for (int c = 0; c < 3; ++c) out[c] = coverage[c] >= kMinChannelCoverage;
  if (out == ChannelMask{}) out[std::max_element(coverage.begin(), coverage.end()) - coverage.begin()] = true;
  return out;
}

ChannelMask comparison_channels(const ChannelMask& image, const ChannelMask& class_measured) {
  ChannelMask out{};
  for (int c = 0; c < 3; ++c) out[c] = image[c] && class_measured[c];
  return out == ChannelMask{} ? image : out;
}

ChannelMask BackgroundEstimate::measured() const {
  ChannelMask out{};
  for (int c = 0; c < 3; ++c) out[c] = state[c] == ChannelState::Measured;
  return out;
}

ChannelMask BackgroundEstimate::usable() const {
  const ChannelMask m = measured();
  if (m[0] || m[1] || m[2]) return m;
  // Against the clip level a channel shows only what is darker than the clip: it needs some such pixels.
  constexpr double kMinShareBelowClip = 0.001;
  ChannelMask out{};
  for (int c = 0; c < 3; ++c)
    out[c] = state[c] == ChannelState::Saturated && saturated_share[c] <= 1.0 - kMinShareBelowClip;
  return out;
}

bool BackgroundEstimate::any_usable() const {
  const ChannelMask u = usable();
  return u[0] || u[1] || u[2];
}

bool BackgroundEstimate::against_clip_level() const {
  const ChannelMask m = measured();
  return any_usable() && !(m[0] || m[1] || m[2]);
}

std::string BackgroundEstimate::ignored_reason() const {
  std::vector<std::string> parts;
  for (ChannelState s : {ChannelState::Saturated, ChannelState::Dark}) {
    std::string phrase = state_phrase(*this, s);
    if (!phrase.empty()) parts.push_back(std::move(phrase));
  }
  return joined(parts);
}

std::string BackgroundEstimate::explain() const {
  const std::string reason = ignored_reason();
  if (reason.empty()) return {};
  const bool dark = std::count(state.begin(), state.end(), ChannelState::Dark) > 0;
  const std::string remedy = dark && std::count(state.begin(), state.end(), ChannelState::Saturated) == 0
                                 ? "raise the exposure time or the lamp intensity"
                                 : "lower the exposure time or the lamp intensity";
  if (!any_usable())
    return reason + ": no channel shows the bare substrate, so no contrast can be measured; " + remedy +
           " and scan again";
  if (against_clip_level())
    return reason + ": no channel shows the bare substrate's true colour, so contrast is taken against the clip " +
           "level (255) in " + channel_list(usable()) +
           ": only flakes darker than the clip show, with their contrast underestimated; " + remedy +
           " so that the substrate stays below 250";
  const ChannelMask used = usable();
  const bool several_ignored = std::count(used.begin(), used.end(), false) > 1;
  return reason + (several_ignored ? ": their" : ": its") + " contrast is not trusted, using " + channel_list(used) +
         " only (" + remedy + " to use all three)";
}

BackgroundEstimate measure_background(const cv::Mat& bgr8, const BackgroundRule& rule) {
  if (bgr8.type() != CV_8UC3) throw Error("estimate_background: expected an 8-bit BGR image");
  if (rule.min_value < 0 || rule.max_value > 255 || rule.min_value > rule.max_value || rule.radius < 0)
    throw Error("background rule: need 0 <= min_value <= max_value <= 255 and radius >= 0");
  const Histograms hist = channel_histograms(bgr8);
  const double total = std::max<double>(1.0, static_cast<double>(bgr8.total()));
  BackgroundEstimate out;
  std::array<ChannelSearch, 3> search;
  for (int c = 0; c < 3; ++c) {
    search[c] = channel_search(hist[c], rule);
    out.state[c] = search[c].state;
    out.saturated_share[c] = static_cast<double>(count_in(hist[c], kSaturatedLevel, 255)) / total;
    out.dark_share[c] = static_cast<double>(count_in(hist[c], 0, kDarkLevel)) / total;
    out.colour[c] = out.state[c] == ChannelState::Saturated ? 255.0
                    : out.state[c] == ChannelState::Dark    ? 1.0
                                                            : independent_channel_level(hist[c], search[c], rule.radius);
  }
  if (rule.joint_eroded_mask) joint_mask_background(bgr8, hist, search, rule, out.colour);
  return out;
}

Bgr estimate_background(const cv::Mat& bgr8, const BackgroundRule& rule) {
  const BackgroundEstimate e = measure_background(bgr8, rule);
  Bgr colour = e.colour;
  for (int c = 0; c < 3; ++c)
    if (e.state[c] != ChannelState::Measured) colour[c] = 0;
  return colour;
}

bool has_valid_background(const Bgr& background) {
  return std::all_of(background.begin(), background.end(), [](double v) { return v >= 1.0; });
}

Bgr channel_medians(const cv::Mat& bgr8) {
  const auto hist = channel_histograms(bgr8);
  const uint64_t half = (static_cast<uint64_t>(bgr8.total()) + 1) / 2;
  Bgr medians{};
  for (int c = 0; c < 3; ++c) {
    uint64_t seen = 0;
    int value = 0;
    while (value < 255 && (seen += hist[c][static_cast<size_t>(value)]) < half) ++value;
    medians[c] = value;
  }
  return medians;
}

Bgr substrate_colour(const cv::Mat& bgr8) {
  const BackgroundEstimate e = measure_background(bgr8);
  Bgr colour = e.colour;
  const Bgr medians = channel_medians(bgr8);
  for (int c = 0; c < 3; ++c)
    if (e.state[c] == ChannelState::Dark) colour[c] = std::max(1.0, medians[c]);
  return colour;
}

cv::Mat apply_flat_field(const cv::Mat& bgr8, const cv::Mat& flat_field, int max_value) {
  if (flat_field.size() != bgr8.size() || flat_field.type() != CV_8UC3)
    throw Error("flat field: must be an 8-bit colour image of the same size as the image (" +
                std::to_string(bgr8.cols) + "x" + std::to_string(bgr8.rows) + ")");
  const cv::Scalar flat_mean = cv::mean(flat_field);
  cv::Mat out(bgr8.size(), CV_8UC3);
  for (int y = 0; y < bgr8.rows; ++y) {
    const uint8_t* in = bgr8.ptr<uint8_t>(y);
    const uint8_t* flat = flat_field.ptr<uint8_t>(y);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int i = 0; i < bgr8.cols * 3; ++i) {
      const double f = std::max<uint8_t>(flat[i], 1);
      const double v = std::min<double>(in[i] / f * flat_mean[i % 3], max_value);
      o[i] = static_cast<uint8_t>(v);  // truncation, as numpy's astype(uint8)
    }
  }
  return out;
}

float round_to_half(float x) {
  if (x == 0.0f || !std::isfinite(x)) return x;
  // Half has 11 significant bits; below 2^-14 it is subnormal with a fixed spacing of 2^-24.
  const int exponent = std::max(std::ilogb(x), -14);
  const float spacing = std::ldexp(1.0f, exponent - 10);
  return std::nearbyint(x / spacing) * spacing;  // default rounding mode: ties to even
}

ContrastLut contrast_lut(const Bgr& background, ContrastPrecision precision) {
  ContrastLut lut{};
  for (int c = 0; c < 3; ++c) {
    if (precision == ContrastPrecision::Half) {
      const float bg = round_to_half(static_cast<float>(background[c]));
      for (int v = 0; v < 256; ++v) lut[c][v] = round_to_half(round_to_half(static_cast<float>(v) / bg) - 1.0f);
    } else {
      const float bg = static_cast<float>(background[c]);
      for (int v = 0; v < 256; ++v) lut[c][v] = static_cast<float>(v) / bg - 1.0f;
    }
  }
  return lut;
}

cv::Mat contrast_image(const cv::Mat& bgr8, const Bgr& background) {
  if (bgr8.type() != CV_8UC3) throw Error("contrast_image: expected an 8-bit BGR image");
  if (!has_valid_background(background)) throw Error("contrast_image: background has a channel below 1");
  const auto lut = contrast_lut(background);
  cv::Mat contrast(bgr8.size(), CV_32FC3);
  for (int y = 0; y < bgr8.rows; ++y) {
    const uint8_t* in = bgr8.ptr<uint8_t>(y);
    float* out = contrast.ptr<float>(y);
    for (int i = 0; i < bgr8.cols * 3; i += 3) {
      out[i] = lut[0][in[i]];
      out[i + 1] = lut[1][in[i + 1]];
      out[i + 2] = lut[2][in[i + 2]];
    }
  }
  return contrast;
}

cv::Mat contrast_image(const cv::Mat& bgr8, const Bgr& background, const ChannelMask& usable) {
  cv::Mat contrast = contrast_image(bgr8, background);
  cv::multiply(contrast, cv::Scalar(usable[0], usable[1], usable[2]), contrast);
  return contrast;
}

cv::Mat contrast_norm(const cv::Mat& contrast) {
  cv::Mat squared = contrast.mul(contrast), norm;
  cv::transform(squared, norm, cv::Matx13f(1, 1, 1));
  cv::sqrt(norm, norm);
  return norm;
}

}  // namespace maskterial
