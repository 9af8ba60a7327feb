#pragma once
// Mask2Former's transformer decoder ("MultiScaleMaskedTransformerDecoder"): learnable query features and
// query positions; each layer is masked cross-attention to one of the three pixel-decoder scales (round
// robin, coarsest first), self-attention among the queries and a feed-forward network, all post-norm. Before
// the first layer and after every layer, the heads predict a class (num_classes + no-object) and a mask
// (query embedding · mask features) per query; the mask, resized to the next layer's scale, limits where that
// layer's cross-attention may look (masked attention).
#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "maskterial/segment/mask2former/options.hpp"

namespace maskterial::segment {

// Multi-head attention (scaled dot product) with separate q, k, v projections.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads);
  // query [B, Lq, C], key and value [B, Lk, C]; blocked: optional bool [B, Lq, Lk], true = may not attend
  // (no row may be all true).
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& key, const torch::Tensor& value,
                        const torch::Tensor& blocked = {});

 private:
  int64_t heads_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr};
};
TORCH_MODULE(Attention);

// Where each query may not look at a feature map of size (height, width): its mask logits resized there
// (bilinear) with sigmoid < 0.5, i.e. outside its predicted mask. A query whose mask is empty there may look
// everywhere. mask_logits [B, Q, h, w] → bool [B, Q, height * width], detached.
torch::Tensor attention_mask(const torch::Tensor& mask_logits, int64_t height, int64_t width);

struct DecoderPrediction {
  torch::Tensor logits;  // [B, Q, num_classes + 1]
  torch::Tensor masks;   // [B, Q, H/4, W/4] logits
};

class MaskedTransformerDecoderImpl : public torch::nn::Module {
 public:
  // in_channels: of the pixel decoder's multi-scale maps; mask_dim: of its mask features.
  MaskedTransformerDecoderImpl(const TransformerDecoderOptions& options, int64_t in_channels, int64_t mask_dim,
                               int64_t num_classes);
  // multi_scale: 3 maps, coarsest first; mask_features [B, mask_dim, H/4, W/4]. Returns layers + 1
  // predictions, the final one last.
  std::vector<DecoderPrediction> forward(const std::vector<torch::Tensor>& multi_scale,
                                         const torch::Tensor& mask_features);

 private:
  DecoderPrediction predict(const torch::Tensor& queries, const torch::Tensor& mask_features);

  TransformerDecoderOptions options_;
  torch::nn::ModuleList input_proj_{nullptr};  // empty when in_channels == hidden_dim
  torch::nn::Embedding level_embed_{nullptr}, query_feat_{nullptr}, query_embed_{nullptr};
  torch::nn::ModuleList cross_attention_{nullptr}, self_attention_{nullptr}, ffn_{nullptr};
  torch::nn::LayerNorm decoder_norm_{nullptr};
  torch::nn::Linear class_embed_{nullptr};
  torch::nn::Sequential mask_embed_{nullptr};
};
TORCH_MODULE(MaskedTransformerDecoder);

}  // namespace maskterial::segment
