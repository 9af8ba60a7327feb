// The chunk kernel's loops, included by fcresnet_chunk_{avx512,avx2,generic}.cpp, each compiled for its
// instruction set inside namespace MASKTERIAL_CHUNK_VARIANT. Plain loops over kLanes samples that the
// compiler vectorises; accumulators are local arrays so they live in registers.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "fcresnet_chunk.hpp"

namespace maskterial::fcresnet_chunk::MASKTERIAL_CHUNK_VARIANT {
namespace {

inline float bits_to_float(int32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// exp(x) for x ≤ 0 (ELU, softmax after subtracting the maximum), Cephes' expf polynomial (~1 ulp), written
// so that it vectorises: round by the 1.5·2²³ trick, scale by building the exponent bits.
inline float exp_nonpositive(float x) {
  x = std::max(x, -87.0f);
  const float rounded = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - rounded * 0.693359375f) + rounded * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * bits_to_float((static_cast<int32_t>(rounded) + 127) << 23);
}

// y[o][s] = start + Σk w[o][k] · x[k][s] for rows o0..o0+R-1; start = bias[o], 0 (bias null, !accumulate)
// or y[o][s] (accumulate).
template <int R>
inline void gemm_rows(const float* w, int in, const float* x, float* y, const float* bias, bool accumulate,
                      int cols, int o0) {
  for (int s = 0; s < cols; s += kLanes) {
    float a[R][kLanes];
    for (int r = 0; r < R; ++r)
      for (int l = 0; l < kLanes; ++l)
        a[r][l] = accumulate ? y[(o0 + r) * kChunk + s + l] : bias ? bias[o0 + r] : 0.0f;
    for (int k = 0; k < in; ++k) {
      const float* xk = x + k * kChunk + s;
      for (int r = 0; r < R; ++r) {
        const float wk = w[(o0 + r) * in + k];
        for (int l = 0; l < kLanes; ++l) a[r][l] += wk * xk[l];
      }
    }
    for (int r = 0; r < R; ++r)
      for (int l = 0; l < kLanes; ++l) y[(o0 + r) * kChunk + s + l] = a[r][l];
  }
}

inline void gemm(const float* w, int out, int in, const float* x, float* y, const float* bias, bool accumulate,
                 int cols) {
  int o = 0;
  for (; o + 4 <= out; o += 4) gemm_rows<4>(w, in, x, y, bias, accumulate, cols, o);
  for (; o < out; ++o) gemm_rows<1>(w, in, x, y, bias, accumulate, cols, o);
}

// lane_gw[o][k][l] += Σ_blocks g[o][s+l] · x[k][s+l] for columns k0..k0+R-1 of row o.
template <int R>
inline void weight_grad_cols(const float* go, const float* x, int in, float* lane_gw_row, int cols, int k0) {
  float a[R][kLanes] = {};
  for (int s = 0; s < cols; s += kLanes)
    for (int r = 0; r < R; ++r) {
      const float* xk = x + (k0 + r) * kChunk + s;
      for (int l = 0; l < kLanes; ++l) a[r][l] += go[s + l] * xk[l];
    }
  for (int r = 0; r < R; ++r)
    for (int l = 0; l < kLanes; ++l) lane_gw_row[(k0 + r) * kLanes + l] += a[r][l];
  (void)in;
}

inline void weight_grad(const float* g, int out, const float* x, int in, const Layer& layer, int cols) {
  for (int o = 0; o < out; ++o) {
    const float* go = g + o * kChunk;
    float bias_acc[kLanes] = {};
    for (int s = 0; s < cols; s += kLanes)
      for (int l = 0; l < kLanes; ++l) bias_acc[l] += go[s + l];
    for (int l = 0; l < kLanes; ++l) layer.lane_gb[o * kLanes + l] += bias_acc[l];
    float* row = layer.lane_gw + static_cast<size_t>(o) * in * kLanes;
    int k = 0;
    for (; k + 4 <= in; k += 4) weight_grad_cols<4>(go, x, in, row, cols, k);
    for (; k < in; ++k) weight_grad_cols<1>(go, x, in, row, cols, k);
  }
}

// z_next = z_prev + Dropout(ELU(h)) with h read from z_next; factor = ∂z_next/∂h (dropout scale × ELU').
inline void elu_dropout(const float* z_prev, float* z_next, float* factor, int width, const Problem& p,
                        uint64_t key, int64_t first_sample, int cols) {
  for (int j = 0; j < width; ++j)
    for (int s = 0; s < cols; s += kLanes) {
      const int off = j * kChunk + s;
      for (int l = 0; l < kLanes; ++l) {
        const float h = z_next[off + l];
        const uint32_t element = static_cast<uint32_t>((first_sample + s + l) * width + j);
        const float keep = dropout_bits(key, element) >= p.dropout_threshold ? p.dropout_scale : 0.0f;
        const float ex = exp_nonpositive(std::min(h, 0.0f));
        const bool positive = h > 0.0f;
        z_next[off + l] = z_prev[off + l] + keep * (positive ? h : ex - 1.0f);
        factor[off + l] = keep * (positive ? 1.0f : ex);
      }
    }
}

// Replaces the logits by ∂loss/∂logits (softmax − one-hot, times the loss weight; 0 for padding columns).
double softmax_cross_entropy(float* logits, int classes, const Chunk& c, const Problem& p, int cols,
                             bool want_loss) {
  double loss = 0;
  for (int s = 0; s < cols; s += kLanes) {
    int32_t label[kLanes];
    float weight[kLanes], top[kLanes], sum[kLanes] = {}, label_logit[kLanes] = {};
    for (int l = 0; l < kLanes; ++l) {
      const bool real = s + l < c.count;
      label[l] = real ? static_cast<int32_t>(c.labels[c.index[s + l]]) : -1;
      weight[l] = real ? static_cast<float>(p.loss_weight) : 0.0f;
      top[l] = logits[s + l];
    }
    for (int k = 1; k < classes; ++k)
      for (int l = 0; l < kLanes; ++l) top[l] = std::max(top[l], logits[k * kChunk + s + l]);
    for (int k = 0; k < classes; ++k)
      for (int l = 0; l < kLanes; ++l) {
        float& v = logits[k * kChunk + s + l];
        if (k == label[l]) label_logit[l] = v - top[l];
        v = exp_nonpositive(v - top[l]);
        sum[l] += v;
      }
    for (int k = 0; k < classes; ++k)
      for (int l = 0; l < kLanes; ++l) {
        float& v = logits[k * kChunk + s + l];
        v = (v / sum[l] - (k == label[l] ? 1.0f : 0.0f)) * weight[l];
      }
    if (want_loss)
      for (int l = 0; l < kLanes && s + l < c.count; ++l) loss += std::log(static_cast<double>(sum[l])) - label_logit[l];
  }
  return loss;
}

}  // namespace

double run(const Problem& p, const Chunk& c, float* scratch, bool want_loss) {
  const int width = p.width, in = p.layers[0].in, classes = p.classes;
  const int cols = (c.count + kLanes - 1) / kLanes * kLanes;
  float* x = scratch;                           // in × kChunk
  float* z = x + in * kChunk;                   // (depth + 1) × width × kChunk: block outputs
  float* factor = z + (p.depth + 1) * width * kChunk;  // depth × width × kChunk
  float* logits = factor + p.depth * width * kChunk;   // classes × kChunk, then their gradient
  float* grad_z = logits + classes * kChunk;           // width × kChunk
  float* grad_h = grad_z + width * kChunk;             // width × kChunk
  const auto z_of = [&](int block) { return z + block * width * kChunk; };
  const auto factor_of = [&](int block) { return factor + (block - 1) * width * kChunk; };

  for (int j = 0; j < in; ++j)
    for (int s = 0; s < cols; ++s) x[j * kChunk + s] = s < c.count ? c.data[c.index[s] * in + j] : 0.0f;

  const Layer& first = p.layers[0];
  gemm(first.w, width, in, x, z_of(0), first.b, false, cols);
  for (int b = 1; b <= p.depth; ++b) {
    const Layer& layer = p.layers[b];
    gemm(layer.w, width, width, z_of(b - 1), z_of(b), layer.b, false, cols);
    elu_dropout(z_of(b - 1), z_of(b), factor_of(b), width, p, p.dropout_keys[b - 1], c.first_sample, cols);
  }
  const Layer& last = p.layers[p.depth + 1];
  gemm(last.w, classes, width, z_of(p.depth), logits, last.b, false, cols);
  const double loss = softmax_cross_entropy(logits, classes, c, p, cols, want_loss);

  weight_grad(logits, classes, z_of(p.depth), width, last, cols);
  gemm(last.wt, width, classes, logits, grad_z, nullptr, false, cols);
  for (int b = p.depth; b >= 1; --b) {
    const float* f = factor_of(b);
    for (int j = 0; j < width; ++j)
      for (int s = 0; s < cols; ++s) grad_h[j * kChunk + s] = grad_z[j * kChunk + s] * f[j * kChunk + s];
    const Layer& layer = p.layers[b];
    weight_grad(grad_h, width, z_of(b - 1), width, layer, cols);
    gemm(layer.wt, width, width, grad_h, grad_z, nullptr, true, cols);  // residual: grad_z += Wᵀ grad_h
  }
  weight_grad(grad_z, width, x, in, first, cols);
  return loss;
}

}  // namespace maskterial::fcresnet_chunk::MASKTERIAL_CHUNK_VARIANT
