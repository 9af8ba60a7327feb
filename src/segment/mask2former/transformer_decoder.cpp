#include "maskterial/segment/mask2former/transformer_decoder.hpp"

#include <cmath>
#include <limits>

#include "maskterial/segment/mask2former/position_encoding.hpp"

namespace maskterial::segment {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

constexpr int64_t kLevels = 3;

nn::Linear xavier_linear(int64_t in, int64_t out) {
  nn::Linear linear(in, out);
  nn::init::xavier_uniform_(linear->weight);
  return linear;
}

// Attention + residual + LayerNorm; queries and keys carry their position embeddings, values do not.
class AttentionLayerImpl : public nn::Module {
 public:
  AttentionLayerImpl(int64_t dim, int64_t heads) {
    attention_ = register_module("attention", Attention(dim, heads));
    norm_ = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({dim})));
  }
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& x_pos, const torch::Tensor& memory,
                        const torch::Tensor& memory_pos, const torch::Tensor& blocked = {}) {
    return norm_(x + attention_(x + x_pos, memory + memory_pos, memory, blocked));
  }

 private:
  Attention attention_{nullptr};
  nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(AttentionLayer);

class FeedForwardLayerImpl : public nn::Module {
 public:
  FeedForwardLayerImpl(int64_t dim, int64_t hidden) {
    linear1_ = register_module("linear1", xavier_linear(dim, hidden));
    linear2_ = register_module("linear2", xavier_linear(hidden, dim));
    norm_ = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({dim})));
  }
  torch::Tensor forward(const torch::Tensor& x) { return norm_(x + linear2_(torch::relu(linear1_(x)))); }

 private:
  nn::Linear linear1_{nullptr}, linear2_{nullptr};
  nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(FeedForwardLayer);

}  // namespace

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads) : heads_(heads) {
  q_proj_ = register_module("q_proj", xavier_linear(dim, dim));
  k_proj_ = register_module("k_proj", xavier_linear(dim, dim));
  v_proj_ = register_module("v_proj", xavier_linear(dim, dim));
  out_proj_ = register_module("out_proj", xavier_linear(dim, dim));
  for (auto* linear : {&q_proj_, &k_proj_, &v_proj_, &out_proj_}) nn::init::zeros_((*linear)->bias);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                                     const torch::Tensor& blocked) {
  const int64_t b = query.size(0), lq = query.size(1), c = query.size(2), d = c / heads_;
  const auto split = [&](const torch::Tensor& x) { return x.view({x.size(0), x.size(1), heads_, d}).transpose(1, 2); };
  const torch::Tensor q = split(q_proj_(query)) * (1.0 / std::sqrt(static_cast<double>(d)));
  const torch::Tensor k = split(k_proj_(key));
  const torch::Tensor v = split(v_proj_(value));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1));  // [B, heads, Lq, Lk]
  if (blocked.defined()) scores = scores.masked_fill(blocked.unsqueeze(1), -std::numeric_limits<float>::infinity());
  const torch::Tensor out = torch::matmul(torch::softmax(scores, -1), v);
  return out_proj_(out.transpose(1, 2).reshape({b, lq, c}));
}

torch::Tensor attention_mask(const torch::Tensor& mask_logits, int64_t height, int64_t width) {
  const torch::Tensor resized =
      F::interpolate(mask_logits.detach(), F::InterpolateFuncOptions()
                                               .size(std::vector<int64_t>{height, width})
                                               .mode(torch::kBilinear)
                                               .align_corners(false));
  const torch::Tensor blocked = resized.flatten(2) < 0;  // sigmoid < 0.5
  return blocked.logical_and(blocked.all(-1, true).logical_not());
}

MaskedTransformerDecoderImpl::MaskedTransformerDecoderImpl(const TransformerDecoderOptions& options,
                                                           int64_t in_channels, int64_t mask_dim,
                                                           int64_t num_classes)
    : options_(options) {
  const int64_t dim = options.hidden_dim;
  input_proj_ = register_module("input_proj", nn::ModuleList());
  if (in_channels != dim) {
    for (int64_t l = 0; l < kLevels; ++l) {
      nn::Conv2d conv(nn::Conv2dOptions(in_channels, dim, 1));
      nn::init::kaiming_uniform_(conv->weight, 1.0);  // detectron2's c2_xavier_fill
      nn::init::zeros_(conv->bias);
      input_proj_->push_back(conv);
    }
  }
  level_embed_ = register_module("level_embed", nn::Embedding(kLevels, dim));
  query_feat_ = register_module("query_feat", nn::Embedding(options.queries, dim));
  query_embed_ = register_module("query_embed", nn::Embedding(options.queries, dim));
  cross_attention_ = register_module("cross_attention", nn::ModuleList());
  self_attention_ = register_module("self_attention", nn::ModuleList());
  ffn_ = register_module("ffn", nn::ModuleList());
  for (int i = 0; i < options.layers; ++i) {
    cross_attention_->push_back(AttentionLayer(dim, options.heads));
    self_attention_->push_back(AttentionLayer(dim, options.heads));
    ffn_->push_back(FeedForwardLayer(dim, options.ffn_dim));
  }
  decoder_norm_ = register_module("decoder_norm", nn::LayerNorm(nn::LayerNormOptions({dim})));
  class_embed_ = register_module("class_embed", nn::Linear(dim, num_classes + 1));
  mask_embed_ = register_module("mask_embed", nn::Sequential(nn::Linear(dim, dim), nn::ReLU(), nn::Linear(dim, dim),
                                                             nn::ReLU(), nn::Linear(dim, mask_dim)));
}

DecoderPrediction MaskedTransformerDecoderImpl::predict(const torch::Tensor& queries,
                                                        const torch::Tensor& mask_features) {
  const torch::Tensor y = decoder_norm_(queries);
  const torch::Tensor embedding = mask_embed_->forward(y);  // [B, Q, mask_dim]
  const int64_t b = mask_features.size(0), h = mask_features.size(2), w = mask_features.size(3);
  return {class_embed_(y), torch::matmul(embedding, mask_features.flatten(2)).view({b, -1, h, w})};
}

std::vector<DecoderPrediction> MaskedTransformerDecoderImpl::forward(const std::vector<torch::Tensor>& multi_scale,
                                                                     const torch::Tensor& mask_features) {
  TORCH_CHECK(multi_scale.size() == kLevels, "transformer decoder: expected 3 feature maps");
  const int64_t dim = options_.hidden_dim;
  std::vector<torch::Tensor> memory, memory_pos;
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (int64_t l = 0; l < kLevels; ++l) {
    const torch::Tensor& x = multi_scale[l];
    sizes.emplace_back(x.size(2), x.size(3));
    const torch::Tensor projected = input_proj_->is_empty() ? x : input_proj_[l]->as<nn::Conv2d>()->forward(x);
    memory.push_back((projected.flatten(2) + level_embed_->weight[l].view({1, -1, 1})).transpose(1, 2));
    memory_pos.push_back(sine_position_encoding(x, dim / 2).flatten(2).transpose(1, 2));
  }
  const int64_t batch = mask_features.size(0);
  const torch::Tensor query_pos = query_embed_->weight.unsqueeze(0);
  torch::Tensor queries = query_feat_->weight.unsqueeze(0).expand({batch, options_.queries, dim});

  std::vector<DecoderPrediction> predictions{predict(queries, mask_features)};
  for (int i = 0; i < options_.layers; ++i) {
    const int64_t level = i % kLevels;
    const torch::Tensor blocked =
        attention_mask(predictions.back().masks, sizes[level].first, sizes[level].second);
    queries = cross_attention_[i]->as<AttentionLayer>()->forward(queries, query_pos, memory[level],
                                                                 memory_pos[level], blocked);
    queries = self_attention_[i]->as<AttentionLayer>()->forward(queries, query_pos, queries, query_pos);
    queries = ffn_[i]->as<FeedForwardLayer>()->forward(queries);
    predictions.push_back(predict(queries, mask_features));
  }
  return predictions;
}

}  // namespace maskterial::segment
