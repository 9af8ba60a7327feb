#pragma once
// A tiny stand-in for Mask2Former with the same output contract (class logits, mask logits at 1/4
// resolution, auxiliary outputs), so the training machinery is tested in seconds.
#include <memory>

#include <torch/torch.h>

#include "maskterial/segment/mask2former/mask2former.hpp"
#include "maskterial/segment/trainer.hpp"

namespace maskterial::segment::test {

struct TinySegmenterImpl : torch::nn::Module {
  torch::nn::Conv2d stem{nullptr}, embed{nullptr};
  torch::nn::BatchNorm2d stem_norm{nullptr};
  torch::nn::Embedding queries{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear classes{nullptr};

  explicit TinySegmenterImpl(int64_t query_count = 6, int64_t channels = 16) {
    stem = register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, channels, 4).stride(4)));
    stem_norm = register_module("stem_norm", torch::nn::BatchNorm2d(channels));
    embed = register_module("embed", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 3).padding(1)));
    queries = register_module("queries", torch::nn::Embedding(query_count, channels));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})));
    classes = register_module("classes", torch::nn::Linear(channels, 2));
  }

  SegmenterOutput forward(const torch::Tensor& images) {
    const torch::Tensor features = torch::relu(stem_norm->forward(stem->forward((images - 128.0) / 64.0)));
    const torch::Tensor pixels = embed->forward(features);
    const torch::Tensor q = norm->forward(queries->weight.unsqueeze(0) + pixels.mean({2, 3}).unsqueeze(1));
    SegmenterOutput out{classes->forward(q), torch::einsum("bqc,bchw->bqhw", {q, pixels}), {}};
    out.aux.push_back({classes->forward(q * 0.5), torch::einsum("bqc,bchw->bqhw", {q, features}), {}});
    return out;
  }
};
TORCH_MODULE(TinySegmenter);

inline SegmenterForward forward_of(TinySegmenter net) {
  return [net](const torch::Tensor& images) mutable { return net->forward(images); };
}

}  // namespace maskterial::segment::test
