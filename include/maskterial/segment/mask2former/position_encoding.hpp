#pragma once
// The sine position encoding of DETR / Mask2Former (normalised, scale 2π, temperature 10000): for a feature
// map of height H and width W, channels [0, F) encode the row and [F, 2F) the column, alternating sin and cos
// of the position divided by 10000^(2⌊i/2⌋/F).
#include <cstdint>

#include <torch/torch.h>

namespace maskterial::segment {

// [1, 2 * num_feats, H, W] for a feature map x [B, C, H, W], on x's device; the same for every image.
torch::Tensor sine_position_encoding(const torch::Tensor& x, int64_t num_feats);

}  // namespace maskterial::segment
