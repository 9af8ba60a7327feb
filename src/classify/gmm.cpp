#include "maskterial/classify/gmm.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial {
namespace {

using Mat3 = std::array<std::array<double, 3>, 3>;

// Cholesky factor of a symmetric positive definite 3x3 matrix, then its (lower triangular) inverse.
bool inverse_cholesky(const Mat3& a, Mat3& inv) {
  Mat3 l{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = a[i][j];
      for (int k = 0; k < j; ++k) s -= l[i][k] * l[j][k];
      if (i == j) {
        if (!(s > 0) || !std::isfinite(s)) return false;
        l[i][i] = std::sqrt(s);
      } else {
        l[i][j] = s / l[j][j];
      }
    }
  }
  inv = Mat3{};
  for (int i = 0; i < 3; ++i) {
    inv[i][i] = 1.0 / l[i][i];
    for (int j = 0; j < i; ++j) {
      double s = 0;
      for (int k = j; k < i; ++k) s -= l[i][k] * inv[k][j];
      inv[i][j] = s / l[i][i];
    }
  }
  return true;
}

double number_at(const nlohmann::ordered_json& j, const std::string& where) {
  if (!j.is_number()) throw Error(where + ": expected a number");
  const double v = j.get<double>();
  if (!std::isfinite(v)) throw Error(where + ": not a finite number");
  return v;
}

double mahalanobis(const Mat3& inverse_cholesky, const std::array<double, 3>& mean, const std::array<double, 3>& x) {
  double d2 = 0;
  for (int i = 0; i < 3; ++i) {
    double z = 0;
    for (int j = 0; j <= i; ++j) z += inverse_cholesky[i][j] * (x[j] - mean[j]);
    d2 += z * z;
  }
  return std::sqrt(d2);
}

}  // namespace

GmmClassifier::GmmClassifier(std::vector<GaussianClass> classes) : classes_(std::move(classes)) {
  if (classes_.size() > 254) throw Error("GMM: at most 254 classes are supported");
  for (auto& c : classes_) {
    if (!inverse_cholesky(c.covariance, c.inverse_cholesky))
      throw Error("GMM class \"" + c.name + "\": covariance matrix is not symmetric positive definite");
    labels_.push_back({static_cast<uint8_t>(labels_.size() + 1), c.name});
  }
}

GmmClassifier GmmClassifier::from_json(const nlohmann::ordered_json& json, const std::string& source) {
  if (!json.is_object() || json.empty())
    throw file_error(source, "GMM parameters must be a non-empty JSON object {\"<class>\": {...}}");
  std::vector<GaussianClass> classes;
  for (const auto& [name, entry] : json.items()) {
    const std::string where = source + ": class \"" + name + "\"";
    if (!entry.is_object() || !entry.contains("contrast") || !entry.contains("covariance_matrix"))
      throw Error(where + ": needs \"contrast\" and \"covariance_matrix\"");
    GaussianClass c;
    c.name = name;
    const auto& contrast = entry.at("contrast");
    const char* keys[3] = {"b", "g", "r"};
    for (int i = 0; i < 3; ++i) {
      if (!contrast.is_object() || !contrast.contains(keys[i]))
        throw Error(where + ": contrast needs keys b, g, r");
      c.mean[i] = number_at(contrast.at(keys[i]), where + ".contrast." + keys[i]);
    }
    if (entry.contains("measured_channels")) {
      const auto& measured = entry.at("measured_channels");
      for (int i = 0; i < 3; ++i) {
        if (!measured.is_object() || !measured.contains(keys[i]) || !measured.at(keys[i]).is_boolean())
          throw Error(where + ": measured_channels needs keys b, g, r with true or false");
        c.measured[i] = measured.at(keys[i]).get<bool>();
      }
    }
    const auto& cov = entry.at("covariance_matrix");
    if (!cov.is_array() || cov.size() != 3) throw Error(where + ": covariance_matrix must be 3x3");
    for (int i = 0; i < 3; ++i) {
      if (!cov[i].is_array() || cov[i].size() != 3) throw Error(where + ": covariance_matrix must be 3x3");
      for (int j = 0; j < 3; ++j) c.covariance[i][j] = number_at(cov[i][j], where + ".covariance_matrix");
    }
    classes.push_back(std::move(c));
  }
  try {
    return GmmClassifier(std::move(classes));
  } catch (const Error& e) {
    throw file_error(source, e.what());
  }
}

GmmClassifier GmmClassifier::load(const std::string& path) { return from_json(read_ordered_json(path), path); }

nlohmann::ordered_json GmmClassifier::to_json() const {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& c : classes_) {
    out[c.name] = {{"contrast", {{"b", c.mean[0]}, {"g", c.mean[1]}, {"r", c.mean[2]}}},
                   {"covariance_matrix", c.covariance}};
    if (c.measured != kAllChannels)
      out[c.name]["measured_channels"] = {{"b", c.measured[0]}, {"g", c.measured[1]}, {"r", c.measured[2]}};
  }
  return out;
}

void GmmClassifier::save_parameters(const std::string& path) const { write_json_atomic(path, to_json(), 4); }

nlohmann::json GmmClassifier::describe() const {
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& c : labels_) classes.push_back({{"id", c.id}, {"name", c.name}});
  return {{"format", "maskterial"}, {"kind", "classification"}, {"type", "gmm"}, {"classes", classes},
          {"default_threshold", default_threshold()}, {"contrast_precision", "float32"},
          {"files", {{"parameters", "gmm.json"}}}};
}

void GmmClassifier::save(const std::string& dir) const {
  std::filesystem::create_directories(dir);
  save_parameters(dir + "/gmm.json");
  write_json_atomic(dir + "/model.json", describe(), 2);
}

std::vector<GmmClassifier::Mat3> GmmClassifier::inverse_choleskies(const ChannelMask& channels) const {
  std::vector<Mat3> out;
  for (const auto& c : classes_) {
    const ChannelMask used = comparison_channels(channels, c.measured);
    if (used == kAllChannels) {
      out.push_back(c.inverse_cholesky);
      continue;
    }
    // An ignored channel's row and column replaced by the identity's: the Cholesky factor then holds the
    // marginal's factor on the used channels (their order kept) and 1 on the ignored diagonal, set to 0 here.
    Mat3 marginal = c.covariance;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        if (!used[i] || !used[j]) marginal[i][j] = i == j ? 1.0 : 0.0;
    Mat3 inverse{};
    if (!inverse_cholesky(marginal, inverse))
      throw Error("GMM class \"" + c.name + "\": marginal covariance is not positive definite");
    for (int i = 0; i < 3; ++i)
      if (!used[i]) inverse[i][i] = 0.0;
    out.push_back(inverse);
  }
  return out;
}

std::vector<uint8_t> GmmClassifier::classify_contrasts(const std::vector<std::array<float, 3>>& contrasts,
                                                       double threshold, std::vector<float>* distances,
                                                       const ChannelMask& channels) const {
  std::vector<uint8_t> out(contrasts.size(), 0);
  if (distances) distances->assign(contrasts.size(), 0.0f);
  const std::vector<Mat3> inverse = inverse_choleskies(channels);
  for (size_t i = 0; i < contrasts.size(); ++i) {
    const std::array<double, 3> x{contrasts[i][0], contrasts[i][1], contrasts[i][2]};
    double best = std::numeric_limits<double>::infinity();
    for (size_t k = 0; k < classes_.size(); ++k) {
      const double d = mahalanobis(inverse[k], classes_[k].mean, x);
      if (d < best) best = d, out[i] = labels_[k].id;  // strict: the first class wins ties
    }
    if (!(best < threshold)) out[i] = 0;
    if (distances) (*distances)[i] = static_cast<float>(best);
  }
  return out;
}

double GmmClassifier::flake_uncertainty(const std::array<double, 3>& mean_contrast, uint8_t id,
                                        const ChannelMask& channels) const {
  if (id < 1 || id > classes_.size()) throw Error("GMM: no class with id " + std::to_string(id));
  return distance(mean_contrast, id - 1u, channels);
}

double GmmClassifier::distance(const std::array<double, 3>& x, size_t k, const ChannelMask& channels) const {
  const auto& c = classes_.at(k);
  const bool every_channel = channels == kAllChannels && c.measured == kAllChannels;
  return mahalanobis(every_channel ? c.inverse_cholesky : inverse_choleskies(channels).at(k), c.mean, x);
}

namespace {

// z = L^-1 (x - mu) = L^-1 x - L^-1 mu, with the offsets precomputed: 6 multiply-adds per pixel and class.
struct Coeffs {
  float l00, l10, l11, l20, l21, l22, o0, o1, o2;
};

// Pixels per pass: the chunk's buffers (5 floats a pixel) stay in the L1 cache across the classes.
constexpr int kChunk = 256;

// Squared Mahalanobis distance of a chunk of contrasts to one class; where it is below `best`, the pixel takes
// `label`. Labels are kept as floats so that every lane is 4 bytes and the loop vectorises in one piece. Cloned
// for AVX2 (twice the floats per instruction, chosen at load time); no FMA contraction, so every clone computes
// the same roundings and the 2DMatGMM reference detections stay exact.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void nearest_class(const Coeffs c, float label, const float* b, const float* g, const float* r, float* best,
                   float* best_label, int n) {
  for (int x = 0; x < n; ++x) {
    const float z0 = c.l00 * b[x] - c.o0;
    const float z1 = c.l10 * b[x] + c.l11 * g[x] - c.o1;
    const float z2 = c.l20 * b[x] + c.l21 * g[x] + c.l22 * r[x] - c.o2;
    const float d = z0 * z0 + z1 * z1 + z2 * z2;
    const bool closer = d < best[x];  // strict: the first class wins ties, as in the reference
    best[x] = closer ? d : best[x];
    best_label[x] = closer ? label : best_label[x];
  }
}

}  // namespace

PixelClassification GmmClassifier::classify(const cv::Mat& bgr8, const ContrastLut& lut, double std_threshold,
                                            const cv::Mat& roi, const ChannelMask& channels) const {
  if (bgr8.type() != CV_8UC3) throw Error("GMM classify: expected an 8-bit BGR image");
  if (!roi.empty() && (roi.type() != CV_8U || roi.size() != bgr8.size()))
    throw Error("GMM classify: roi must be an 8-bit mask of the image's size");
  const float threshold2 = static_cast<float>(std_threshold * std_threshold);
  PixelClassification result;
  cv::Mat& labels = result.labels;
  labels.create(bgr8.size(), CV_8U);
  result.distance.create(bgr8.size(), CV_32F);

  // z = L^-1 (x - mu) = L^-1 x - L^-1 mu: precompute the offsets so the inner loop is 6 FMAs per class.
  // An ignored channel has zero coefficients, and its lut is replaced by 0 so no infinity reaches them.
  ContrastLut used = lut;
  for (int c = 0; c < 3; ++c)
    if (!channels[c]) used[c].fill(0.0f);
  std::vector<Coeffs> coeffs;
  const std::vector<Mat3> inverse = inverse_choleskies(channels);
  for (size_t k = 0; k < classes_.size(); ++k) {
    const auto& l = inverse[k];
    const auto& m = classes_[k].mean;
    coeffs.push_back({float(l[0][0]), float(l[1][0]), float(l[1][1]), float(l[2][0]), float(l[2][1]),
                      float(l[2][2]), float(l[0][0] * m[0]), float(l[1][0] * m[0] + l[1][1] * m[1]),
                      float(l[2][0] * m[0] + l[2][1] * m[1] + l[2][2] * m[2])});
  }

  alignas(64) float b[kChunk], g[kChunk], r[kChunk], best[kChunk], best_label[kChunk];
  for (int y = 0; y < bgr8.rows; ++y) {
    const uint8_t* row = bgr8.ptr<uint8_t>(y);
    const uint8_t* inside = roi.empty() ? nullptr : roi.ptr<uint8_t>(y);
    uint8_t* out = labels.ptr<uint8_t>(y);
    float* md = result.distance.ptr<float>(y);
    for (int x0 = 0; x0 < bgr8.cols; x0 += kChunk) {
      const int n = std::min(kChunk, bgr8.cols - x0);
      const uint8_t* px = row + 3 * x0;
      for (int x = 0; x < n; ++x) {
        b[x] = used[0][px[3 * x]];
        g[x] = used[1][px[3 * x + 1]];
        r[x] = used[2][px[3 * x + 2]];
        best[x] = std::numeric_limits<float>::infinity();
        best_label[x] = 0;
      }
      for (size_t k = 0; k < coeffs.size(); ++k)
        nearest_class(coeffs[k], static_cast<float>(k + 1), b, g, r, best, best_label, n);
      for (int x = 0; x < n; ++x) {
        const bool known = best[x] < threshold2 && (!inside || inside[x0 + x]);
        out[x0 + x] = known ? static_cast<uint8_t>(best_label[x]) : 0;
        md[x0 + x] = inside && !inside[x0 + x] ? 0.0f : std::sqrt(best[x]);
      }
    }
  }
  return result;
}

}  // namespace maskterial
