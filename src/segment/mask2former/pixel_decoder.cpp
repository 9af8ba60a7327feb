#include "maskterial/segment/mask2former/pixel_decoder.hpp"

#include <cmath>

#include "maskterial/segment/mask2former/position_encoding.hpp"

namespace maskterial::segment {

namespace nn = torch::nn;
namespace F = torch::nn::functional;
using Shapes = std::vector<std::pair<int64_t, int64_t>>;

namespace {

constexpr int64_t kGroups = 32;

// detectron2's c2_xavier_fill: uniform with bound sqrt(3 / fan_in), zero bias.
void c2_xavier_fill(nn::Conv2d& conv) {
  nn::init::kaiming_uniform_(conv->weight, 1.0);
  if (conv->bias.defined()) nn::init::zeros_(conv->bias);
}

// Convolution + GroupNorm (+ ReLU), detectron2's Conv2d(norm="GN").
class ConvGnImpl : public nn::Module {
 public:
  ConvGnImpl(int64_t in, int64_t out, int64_t kernel, bool relu) : relu_(relu) {
    conv_ = register_module("conv", nn::Conv2d(nn::Conv2dOptions(in, out, kernel).padding(kernel / 2).bias(false)));
    c2_xavier_fill(conv_);
    norm_ = register_module("norm", nn::GroupNorm(kGroups, out));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    const torch::Tensor y = norm_(conv_(x));
    return relu_ ? torch::relu(y) : y;
  }

 private:
  bool relu_;
  nn::Conv2d conv_{nullptr};
  nn::GroupNorm norm_{nullptr};
};
TORCH_MODULE(ConvGn);

nn::Conv2d mask_features_conv(int64_t in, int64_t out, int64_t kernel) {
  nn::Conv2d conv(nn::Conv2dOptions(in, out, kernel).padding(kernel / 2));
  c2_xavier_fill(conv);
  return conv;
}

// Post-norm encoder layer: deformable self-attention, then a ReLU feed-forward network.
class DeformEncoderLayerImpl : public nn::Module {
 public:
  DeformEncoderLayerImpl(const PixelDecoderOptions& o, int64_t levels) {
    attention_ = register_module("self_attn", MSDeformAttn(o.hidden_dim, levels, o.heads, o.points));
    norm1_ = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({o.hidden_dim})));
    linear1_ = register_module("linear1", nn::Linear(o.hidden_dim, o.ffn_dim));
    linear2_ = register_module("linear2", nn::Linear(o.ffn_dim, o.hidden_dim));
    norm2_ = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({o.hidden_dim})));
    nn::init::xavier_uniform_(linear1_->weight);
    nn::init::xavier_uniform_(linear2_->weight);
  }
  torch::Tensor forward(const torch::Tensor& src, const torch::Tensor& pos, const torch::Tensor& reference,
                        const Shapes& shapes) {
    torch::Tensor x = norm1_(src + attention_(src + pos, reference, src, shapes));
    return norm2_(x + linear2_(torch::relu(linear1_(x))));
  }

 private:
  MSDeformAttn attention_{nullptr};
  nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  nn::Linear linear1_{nullptr}, linear2_{nullptr};
};
TORCH_MODULE(DeformEncoderLayer);

// Centres of every level's pixels as (x, y) in [0, 1], the same for all levels: [1, S, levels, 2].
torch::Tensor reference_points(const Shapes& shapes, const torch::TensorOptions& options) {
  std::vector<torch::Tensor> per_level;
  for (const auto& [h, w] : shapes) {
    const torch::Tensor y = (torch::arange(h, options) + 0.5) / static_cast<double>(h);
    const torch::Tensor x = (torch::arange(w, options) + 0.5) / static_cast<double>(w);
    const std::vector<torch::Tensor> grid = torch::meshgrid({y, x}, "ij");
    per_level.push_back(torch::stack({grid[1].reshape(-1), grid[0].reshape(-1)}, 1));
  }
  const torch::Tensor points = torch::cat(per_level, 0);
  return points.unsqueeze(1).expand({points.size(0), static_cast<int64_t>(shapes.size()), 2}).unsqueeze(0);
}

class MSDeformPixelDecoderImpl : public PixelDecoderImpl {
 public:
  MSDeformPixelDecoderImpl(const PixelDecoderOptions& o, const std::array<int64_t, 4>& in_channels)
      : hidden_(o.hidden_dim) {
    input_proj_ = register_module("input_proj", nn::ModuleList());
    for (int level = 3; level >= 1; --level) {  // res5, res4, res3
      nn::Conv2d conv(nn::Conv2dOptions(in_channels[level], hidden_, 1));
      nn::init::xavier_uniform_(conv->weight);
      nn::init::zeros_(conv->bias);
      input_proj_->push_back(nn::Sequential(conv, nn::GroupNorm(kGroups, hidden_)));
    }
    level_embed_ = register_parameter("level_embed", torch::randn({kLevels, hidden_}));
    layers_ = register_module("encoder", nn::ModuleList());
    for (int i = 0; i < o.encoder_layers; ++i) layers_->push_back(DeformEncoderLayer(o, kLevels));
    lateral_ = register_module("adapter_1", ConvGn(in_channels[0], hidden_, 1, false));
    output_ = register_module("layer_1", ConvGn(hidden_, hidden_, 3, true));
    mask_features_ = register_module("mask_features", mask_features_conv(hidden_, o.mask_dim, 1));
  }

  PixelDecoderOutput forward(const BackboneFeatures& features) override {
    const std::array<torch::Tensor, kLevels> inputs{features.res5, features.res4, features.res3};
    std::vector<torch::Tensor> src, pos;
    Shapes shapes;
    for (int64_t l = 0; l < kLevels; ++l) {
      const torch::Tensor& x = inputs[l];
      shapes.emplace_back(x.size(2), x.size(3));
      src.push_back(input_proj_[l]->as<nn::Sequential>()->forward(x).flatten(2).transpose(1, 2));
      pos.push_back(sine_position_encoding(x, hidden_ / 2).flatten(2).transpose(1, 2) +
                    level_embed_[l].view({1, 1, -1}));
    }
    torch::Tensor memory = torch::cat(src, 1);
    const torch::Tensor position = torch::cat(pos, 1);
    const torch::Tensor reference = reference_points(shapes, memory.options());
    for (const auto& layer : *layers_)
      memory = layer->as<DeformEncoderLayer>()->forward(memory, position, reference, shapes);

    PixelDecoderOutput out;
    const int64_t batch = memory.size(0);
    int64_t start = 0;
    for (const auto& [h, w] : shapes) {
      out.multi_scale.push_back(memory.narrow(1, start, h * w).transpose(1, 2).reshape({batch, hidden_, h, w}));
      start += h * w;
    }
    const torch::Tensor lateral = lateral_(features.res2);
    const torch::Tensor upsampled =
        F::interpolate(out.multi_scale.back(), F::InterpolateFuncOptions()
                                                   .size(std::vector<int64_t>{lateral.size(2), lateral.size(3)})
                                                   .mode(torch::kBilinear)
                                                   .align_corners(false));
    out.mask_features = mask_features_(output_(lateral + upsampled));
    return out;
  }

 private:
  static constexpr int64_t kLevels = 3;
  int64_t hidden_;
  nn::ModuleList input_proj_{nullptr}, layers_{nullptr};
  torch::Tensor level_embed_;
  ConvGn lateral_{nullptr}, output_{nullptr};
  nn::Conv2d mask_features_{nullptr};
};

class FpnPixelDecoderImpl : public PixelDecoderImpl {
 public:
  FpnPixelDecoderImpl(const PixelDecoderOptions& o, const std::array<int64_t, 4>& in_channels) {
    const int64_t hidden = o.hidden_dim;
    top_ = register_module("layer_4", ConvGn(in_channels[3], hidden, 3, true));
    for (int level = 2; level >= 0; --level) {  // res4, res3, res2
      lateral_.push_back(register_module("adapter_" + std::to_string(level + 1), ConvGn(in_channels[level], hidden, 1, false)));
      output_.push_back(register_module("layer_" + std::to_string(level + 1), ConvGn(hidden, hidden, 3, true)));
    }
    mask_features_ = register_module("mask_features", mask_features_conv(hidden, o.mask_dim, 3));
  }

  PixelDecoderOutput forward(const BackboneFeatures& features) override {
    const std::array<torch::Tensor, 3> inputs{features.res4, features.res3, features.res2};
    PixelDecoderOutput out;
    torch::Tensor y = top_(features.res5);
    out.multi_scale.push_back(y);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const torch::Tensor lateral = lateral_[i](inputs[i]);
      y = output_[i](lateral + F::interpolate(y, F::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{lateral.size(2), lateral.size(3)})
                                                     .mode(torch::kNearest)));
      if (out.multi_scale.size() < 3) out.multi_scale.push_back(y);
    }
    out.mask_features = mask_features_(y);
    return out;
  }

 private:
  ConvGn top_{nullptr};
  std::vector<ConvGn> lateral_, output_;
  nn::Conv2d mask_features_{nullptr};
};

}  // namespace

std::shared_ptr<PixelDecoderImpl> make_pixel_decoder(const PixelDecoderOptions& options,
                                                     const std::array<int64_t, 4>& in_channels) {
  if (options.type == "fpn") return std::make_shared<FpnPixelDecoderImpl>(options, in_channels);
  return std::make_shared<MSDeformPixelDecoderImpl>(options, in_channels);
}

MSDeformAttnImpl::MSDeformAttnImpl(int64_t dim, int64_t levels, int64_t heads, int64_t points)
    : heads_(heads), levels_(levels), points_(points) {
  sampling_offsets_ = register_module("sampling_offsets", nn::Linear(dim, heads * levels * points * 2));
  attention_weights_ = register_module("attention_weights", nn::Linear(dim, heads * levels * points));
  value_proj_ = register_module("value_proj", nn::Linear(dim, dim));
  output_proj_ = register_module("output_proj", nn::Linear(dim, dim));
  torch::NoGradGuard no_grad;
  // Deformable DETR's start: no learned offsets yet; head h looks along direction 2πh/heads, point p at
  // distance p + 1 (in pixels of each level); uniform attention.
  nn::init::zeros_(sampling_offsets_->weight);
  const torch::Tensor theta = torch::arange(heads, torch::kFloat32) * (2.0 * M_PI / static_cast<double>(heads));
  torch::Tensor grid = torch::stack({theta.cos(), theta.sin()}, -1);
  grid = grid / std::get<0>(grid.abs().max(-1, true));
  grid = grid.view({heads, 1, 1, 2}).repeat({1, levels, points, 1});
  grid = grid * (torch::arange(points, torch::kFloat32) + 1).view({1, 1, points, 1});
  sampling_offsets_->bias.copy_(grid.flatten());
  nn::init::zeros_(attention_weights_->weight);
  nn::init::zeros_(attention_weights_->bias);
  for (nn::Linear* linear : {&value_proj_, &output_proj_}) {
    nn::init::xavier_uniform_((*linear)->weight);
    nn::init::zeros_((*linear)->bias);
  }
}

torch::Tensor MSDeformAttnImpl::forward(const torch::Tensor& query, const torch::Tensor& reference,
                                        const torch::Tensor& value_input, const Shapes& shapes) {
  const int64_t n = query.size(0), lq = query.size(1), c = query.size(2);
  const torch::Tensor value = value_proj_(value_input).view({n, value_input.size(1), heads_, c / heads_});
  const torch::Tensor offsets = sampling_offsets_(query).view({n, lq, heads_, levels_, points_, 2});
  const torch::Tensor weights =
      torch::softmax(attention_weights_(query).view({n, lq, heads_, levels_ * points_}), -1)
          .view({n, lq, heads_, levels_, points_});
  // Offsets are in pixels of each level: normalise by (W, H).
  std::vector<float> size;
  for (const auto& [h, w] : shapes) size.insert(size.end(), {static_cast<float>(w), static_cast<float>(h)});
  const torch::Tensor normaliser =
      torch::tensor(size, query.options()).view({1, 1, 1, levels_, 1, 2});
  const torch::Tensor locations =
      reference.reshape({reference.size(0), lq, 1, levels_, 1, 2}) + offsets / normaliser;
  return output_proj_(deformable_sample(value, shapes, locations, weights));
}

torch::Tensor deformable_sample(const torch::Tensor& value, const Shapes& shapes, const torch::Tensor& locations,
                                const torch::Tensor& weights) {
  const int64_t n = value.size(0), heads = value.size(2), depth = value.size(3);
  const int64_t lq = locations.size(1), points = locations.size(4);
  const torch::Tensor grids = locations * 2 - 1;  // grid_sample's [-1, 1], align_corners = false
  torch::Tensor out;
  int64_t start = 0;
  for (size_t l = 0; l < shapes.size(); ++l) {
    const auto [h, w] = shapes[l];
    const torch::Tensor level_value =
        value.narrow(1, start, h * w).permute({0, 2, 3, 1}).reshape({n * heads, depth, h, w});
    start += h * w;
    const int64_t li = static_cast<int64_t>(l);
    // All points of all queries in one row: grid_sample's CPU kernel vectorises along rows (2.5x faster
    // than rows of `points`).
    const torch::Tensor grid = grids.select(3, li).transpose(1, 2).reshape({n * heads, 1, lq * points, 2});
    const torch::Tensor sampled =
        F::grid_sample(level_value, grid,
                       F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false))
            .view({n * heads, depth, lq, points});
    const torch::Tensor level_weights = weights.select(3, li).transpose(1, 2).reshape({n * heads, 1, lq, points});
    const torch::Tensor contribution = (sampled * level_weights).sum(-1);  // [N*M, D, Lq]
    out = out.defined() ? out + contribution : contribution;
  }
  return out.view({n, heads * depth, lq}).transpose(1, 2);
}

}  // namespace maskterial::segment
