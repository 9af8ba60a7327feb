#include "maskterial/classify/gmm_fit.hpp"

#include <chrono>
#include <map>

#include <spdlog/spdlog.h>

#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

using Mat3 = std::array<std::array<double, 3>, 3>;

// Sylvester's criterion: all leading principal minors positive.
bool positive_definite(const Mat3& a) {
  const double m1 = a[0][0];
  const double m2 = a[0][0] * a[1][1] - a[0][1] * a[1][0];
  const double m3 = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                    a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                    a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  return m1 > 0 && m2 > 0 && m3 > 0;
}

GaussianClass fit_gaussian(const std::string& name, const std::vector<const Contrast*>& points) {
  if (points.size() < 2)
    throw Error("GMM fit: class " + name + " has " + std::to_string(points.size()) + " sample(s), needs at least 2");
  GaussianClass c;
  c.name = name;
  for (const Contrast* p : points)
    for (int i = 0; i < 3; ++i) c.mean[i] += (*p)[i];
  for (double& m : c.mean) m /= static_cast<double>(points.size());
  // Two passes (mean first) keep the covariance accurate for the tight clusters contrasts form.
  for (const Contrast* p : points)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) c.covariance[i][j] += ((*p)[i] - c.mean[i]) * ((*p)[j] - c.mean[j]);
  for (auto& row : c.covariance)
    for (double& v : row) v /= static_cast<double>(points.size() - 1);

  if (!positive_definite(c.covariance)) {
    const double ridge = 1e-9 * (c.covariance[0][0] + c.covariance[1][1] + c.covariance[2][2]);
    for (int i = 0; i < 3; ++i) c.covariance[i][i] += ridge;
    if (!positive_definite(c.covariance))
      throw Error("GMM fit: class " + name + " has a singular covariance (its samples do not spread in 3-D)");
    spdlog::warn("GMM fit: class {} covariance was singular, added a ridge of {:g}", name, ridge);
  }
  return c;
}

}  // namespace

GmmClassifier fit_gmm(const ContrastSamples& samples) {
  std::map<int64_t, std::vector<const Contrast*>> by_class;
  for (size_t i = 0; i < samples.size(); ++i)
    if (samples.labels[i] != 0) by_class[samples.labels[i]].push_back(&samples.contrasts[i]);
  if (by_class.empty()) throw Error("GMM fit: no samples of any class other than background (0)");
  std::vector<GaussianClass> classes;
  for (const auto& [label, points] : by_class) {
    classes.push_back(fit_gaussian(std::to_string(label), points));
    const auto coverage = samples.channel_coverage.find(label);
    if (coverage != samples.channel_coverage.end())
      classes.back().measured = measured_channels(coverage->second);
  }
  return GmmClassifier(std::move(classes));
}

}  // namespace maskterial
