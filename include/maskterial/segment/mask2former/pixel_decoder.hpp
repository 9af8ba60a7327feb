#pragma once
// Pixel decoders: turn the backbone's res2..res5 into the per-pixel embedding at stride 4 (mask features)
// and three feature maps at strides 32, 16, 8 that the transformer decoder attends to, round-robin.
//  - "msdeform" (Mask2Former's default): a multi-scale deformable-attention encoder (Zhu et al., Deformable
//    DETR) over res3..res5 with sine position encodings plus level embeddings, then an FPN-style lateral
//    connection to res2. Deformable attention samples the value maps with grid_sample, so it needs no custom
//    kernel on CPU or GPU.
//  - "fpn": a plain feature pyramid (lateral 1x1 + nearest upsampling + 3x3 output convolutions).
// All convolutions of both use GroupNorm with 32 groups, as detectron2's Mask2Former heads.
#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "maskterial/segment/mask2former/backbone.hpp"
#include "maskterial/segment/mask2former/options.hpp"

namespace maskterial::segment {

struct PixelDecoderOutput {
  torch::Tensor mask_features;             // [B, mask_dim, H/4, W/4]
  std::vector<torch::Tensor> multi_scale;  // 3 maps [B, hidden_dim, ., .] at strides 32, 16, 8
};

// The interface both decoders implement, so the model holds either (registered as "pixel_decoder").
class PixelDecoderImpl : public torch::nn::Module {
 public:
  virtual PixelDecoderOutput forward(const BackboneFeatures& features) = 0;
};

// in_channels: of res2..res5.
std::shared_ptr<PixelDecoderImpl> make_pixel_decoder(const PixelDecoderOptions& options,
                                                     const std::array<int64_t, 4>& in_channels);

// Multi-scale deformable attention (Deformable DETR): every query attends to `points` locations per head and
// level around its reference point, at offsets and with weights predicted from the query.
class MSDeformAttnImpl : public torch::nn::Module {
 public:
  MSDeformAttnImpl(int64_t dim, int64_t levels, int64_t heads, int64_t points);
  // query [N, Lq, C]; reference [N or 1, Lq, levels, 2] as (x, y) in [0, 1]; value_input [N, S, C], the
  // levels' maps flattened one after another with shapes (H, W) in `shapes`. Returns [N, Lq, C].
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& reference, const torch::Tensor& value_input,
                        const std::vector<std::pair<int64_t, int64_t>>& shapes);

 private:
  int64_t heads_, levels_, points_;
  torch::nn::Linear sampling_offsets_{nullptr}, attention_weights_{nullptr}, value_proj_{nullptr},
      output_proj_{nullptr};
};
TORCH_MODULE(MSDeformAttn);

// Bilinear sampling (zeros outside) of value [N, S, M, D] at locations [N, Lq, M, L, P, 2] in [0, 1],
// weighted by weights [N, Lq, M, L, P] and summed over levels and points: [N, Lq, M * D].
torch::Tensor deformable_sample(const torch::Tensor& value, const std::vector<std::pair<int64_t, int64_t>>& shapes,
                                const torch::Tensor& locations, const torch::Tensor& weights);

}  // namespace maskterial::segment
