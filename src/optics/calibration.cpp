#include "maskterial/optics/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "maskterial/classify/training_data.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::optics {
namespace {

struct Fit {
  double oxide_nm = 0;
  Bgr gamma{1, 1, 1};
  double squared_error = 0;
};

// Best gammas and their error at a fixed oxide thickness: log(1 + C_meas) = gamma * log(1 + C_linear).
Fit fit_at(const Material& material, const std::vector<MeasuredContrast>& measured, OpticalSetup setup,
           double oxide_nm, double prior) {
  setup.oxide_nm = oxide_nm;
  setup.contrast_gamma = {1, 1, 1};
  std::vector<Bgr> linear;
  for (const auto& m : measured) linear.push_back(layer_contrast(setup, material, m.layers));
  Fit fit;
  fit.oxide_nm = oxide_nm;
  for (int c = 0; c < 3; ++c) {
    double ab = prior, aa = prior;
    for (size_t i = 0; i < measured.size(); ++i) {
      const double a = std::log1p(linear[i][c]), b = std::log1p(std::max(measured[i].contrast[c], -0.999));
      ab += a * b;
      aa += a * a;
    }
    fit.gamma[c] = ab / aa;
    for (size_t i = 0; i < measured.size(); ++i) {
      const double predicted = std::pow(1.0 + linear[i][c], fit.gamma[c]) - 1.0;
      fit.squared_error += std::pow(predicted - measured[i].contrast[c], 2);
    }
  }
  return fit;
}

Fit search(const Material& material, const std::vector<MeasuredContrast>& measured, const OpticalSetup& start,
           double from, double to, double step, double prior) {
  Fit best;
  best.squared_error = INFINITY;
  for (double oxide = from; oxide <= to + 1e-9; oxide += step) {
    const Fit fit = fit_at(material, measured, start, oxide, prior);
    if (fit.squared_error < best.squared_error) best = fit;
  }
  return best;
}

std::array<double, 3> to_array(const Bgr& v) { return {v[0], v[1], v[2]}; }

}  // namespace

nlohmann::json Calibration::to_json() const {
  nlohmann::json per_layer = nlohmann::json::object();
  for (size_t i = 0; i < measured.size(); ++i)
    per_layer[std::to_string(measured[i].layers)] = {{"measured_bgr", to_array(measured[i].contrast)},
                                                     {"predicted_bgr", to_array(predicted[i])},
                                                     {"pixels", measured[i].pixels}};
  return {{"setup", setup.to_json()}, {"rms_residual", rms_residual}, {"layers", per_layer}};
}

Calibration calibrate(const Material& material, const std::vector<MeasuredContrast>& measured,
                      const OpticalSetup& start, const CalibrationOptions& options) {
  if (measured.empty()) throw Error("calibration needs at least one measured layer count");
  if (options.oxide_min_nm <= 0 || options.oxide_max_nm < options.oxide_min_nm)
    throw Error("calibration: invalid oxide range");
  const Fit coarse = search(material, measured, start, options.oxide_min_nm, options.oxide_max_nm, 1.0,
                            options.gamma_prior);
  const Fit fine = search(material, measured, start, std::max(options.oxide_min_nm, coarse.oxide_nm - 1.0),
                          std::min(options.oxide_max_nm, coarse.oxide_nm + 1.0), 0.1, options.gamma_prior);
  Calibration out;
  out.setup = start;
  out.setup.oxide_nm = fine.oxide_nm;
  out.setup.contrast_gamma = fine.gamma;
  out.measured = measured;
  for (const auto& m : measured) out.predicted.push_back(layer_contrast(out.setup, material, m.layers));
  out.rms_residual = std::sqrt(fine.squared_error / (3.0 * measured.size()));
  return out;
}

std::vector<MeasuredContrast> measure_contrasts(const coco::Dataset& dataset, const std::string& images_dir) {
  TrainingDataOptions options;
  options.max_eval_samples = 0;
  options.background_samples_per_image = 0;
  options.show_progress = false;
  const ContrastSamples samples = prepare_evaluation_data(dataset, images_dir, options).samples;
  std::map<int64_t, int> layers_of;  // category id -> layer count
  for (const auto& category : dataset.categories) {
    try {
      size_t used = 0;
      const int n = std::stoi(category.name, &used);
      layers_of[category.id] = used == category.name.size() ? n : static_cast<int>(category.id);
    } catch (const std::exception&) {
      layers_of[category.id] = static_cast<int>(category.id);
    }
  }
  std::map<int, std::array<std::vector<float>, 3>> values;
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto it = layers_of.find(samples.labels[i]);
    if (samples.labels[i] == 0 || it == layers_of.end()) continue;
    for (int c = 0; c < 3; ++c) values[it->second][c].push_back(samples.contrasts[i][c]);
  }
  std::vector<MeasuredContrast> out;
  for (auto& [layers, channels] : values) {
    MeasuredContrast m;
    m.layers = layers;
    m.pixels = channels[0].size();
    for (int c = 0; c < 3; ++c) {
      auto& v = channels[c];
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      m.contrast[c] = v[v.size() / 2];
    }
    out.push_back(m);
  }
  if (out.empty()) throw Error("no annotated pixels to measure contrasts from in " + images_dir);
  return out;
}

std::vector<MeasuredContrast> gmm_contrasts(const GmmClassifier& gmm) {
  std::vector<MeasuredContrast> out;
  for (const auto& c : gmm.gaussians()) {
    size_t used = 0;
    int layers = 0;
    try {
      layers = std::stoi(c.name, &used);
    } catch (const std::exception&) {
    }
    if (used != c.name.size() || layers <= 0)
      throw Error("GMM class '" + c.name + "' is not a layer count; calibration needs classes named 1, 2, ...");
    out.push_back({layers, {c.mean[0], c.mean[1], c.mean[2]}, 0});
  }
  return out;
}

GmmClassifier physics_gmm(const OpticalSetup& setup, const Material& material, int max_layers, double sigma) {
  if (max_layers < 1 || sigma <= 0) throw Error("physics GMM needs max_layers >= 1 and sigma > 0");
  std::vector<GaussianClass> classes;
  for (int n = 1; n <= max_layers; ++n) {
    GaussianClass g;
    g.name = std::to_string(n);
    const Bgr c = layer_contrast(setup, material, n);
    g.mean = {c[0], c[1], c[2]};
    for (int i = 0; i < 3; ++i) g.covariance[i][i] = sigma * sigma;
    classes.push_back(g);
  }
  return GmmClassifier(std::move(classes));
}

}  // namespace maskterial::optics
