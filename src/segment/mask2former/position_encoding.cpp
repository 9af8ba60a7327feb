#include "maskterial/segment/mask2former/position_encoding.hpp"

#include <cmath>

namespace maskterial::segment {
namespace {

// [n, num_feats]: sin / cos of positions 1..n normalised to (0, 2π], interleaved.
torch::Tensor encode_axis(int64_t n, int64_t num_feats, const torch::TensorOptions& options) {
  constexpr double kEps = 1e-6;
  constexpr double kTemperature = 10000.0;
  const torch::Tensor position = torch::arange(1, n + 1, options) / (static_cast<double>(n) + kEps) * (2 * M_PI);
  const torch::Tensor exponent = torch::floor(torch::arange(num_feats, options) / 2) * 2 / static_cast<double>(num_feats);
  const torch::Tensor angle = position.unsqueeze(1) / torch::pow(kTemperature, exponent).unsqueeze(0);
  return torch::stack({angle.slice(1, 0, num_feats, 2).sin(), angle.slice(1, 1, num_feats, 2).cos()}, 2)
      .flatten(1);
}

}  // namespace

torch::Tensor sine_position_encoding(const torch::Tensor& x, int64_t num_feats) {
  const int64_t h = x.size(2), w = x.size(3);
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(x.device());
  const torch::Tensor rows = encode_axis(h, num_feats, options).unsqueeze(1).expand({h, w, num_feats});
  const torch::Tensor cols = encode_axis(w, num_feats, options).unsqueeze(0).expand({h, w, num_feats});
  return torch::cat({rows, cols}, 2).permute({2, 0, 1}).unsqueeze(0).to(x.scalar_type());
}

}  // namespace maskterial::segment
