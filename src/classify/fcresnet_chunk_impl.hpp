// The chunk kernel's loops, included by fcresnet_chunk_{avx512,avx2,generic}.cpp, each compiled for its
// instruction set inside namespace MASKTERIAL_CHUNK_VARIANT with MASKTERIAL_CHUNK_WIDTH floats per register
// (16, 8, 4). Written with GCC/Clang vector types of that width, so accumulators stay in registers and no
// auto-vectoriser guesswork is involved. Lane partial sums use the first kWidth of each kLanes slots.
#include <cmath>
#include <cstring>

#include "fcresnet_chunk.hpp"

namespace maskterial::fcresnet_chunk::MASKTERIAL_CHUNK_VARIANT {
namespace {

// Everything is inlined into run(): vectors wider than the target's registers must never cross a call.
#define MASKTERIAL_KERNEL inline __attribute__((always_inline))

constexpr int kWidth = MASKTERIAL_CHUNK_WIDTH;
static_assert(kLanes % kWidth == 0, "a lane block holds whole registers");
constexpr int kRows = 8;  // independent accumulators per block: enough to hide the FMA latency
typedef float vf __attribute__((vector_size(kWidth * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(kWidth * sizeof(int32_t))));
typedef uint32_t vu __attribute__((vector_size(kWidth * sizeof(uint32_t))));

MASKTERIAL_KERNEL vf load(const float* p) {
  vf v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
MASKTERIAL_KERNEL void store(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
MASKTERIAL_KERNEL vf splat(float x) { return vf{} + x; }
MASKTERIAL_KERNEL vf select(vi mask, vf a, vf b) { return reinterpret_cast<vf>((mask & reinterpret_cast<vi>(a)) | (~mask & reinterpret_cast<vi>(b))); }
MASKTERIAL_KERNEL vf vmax(vf a, vf b) { return select(a > b, a, b); }

// exp(x) for x ≤ 0 (ELU, softmax after subtracting the maximum): Cephes' expf polynomial (~1 ulp), rounding
// by the 1.5·2²³ trick and scaling by building the exponent bits.
MASKTERIAL_KERNEL vf exp_nonpositive(vf x) {
  x = vmax(x, splat(-87.0f));
  const vf rounded = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const vf r = (x - rounded * 0.693359375f) + rounded * 2.12194440e-4f;
  vf p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const vi exponent = (__builtin_convertvector(rounded, vi) + 127) << 23;
  return p * reinterpret_cast<vf>(exponent);
}

// y[o][s] = start + Σk w[o][k] · x[k][s] for rows o0..o0+R-1; start = bias[o], 0 (bias null, !accumulate)
// or y[o][s] (accumulate).
template <int R>
MASKTERIAL_KERNEL void gemm_rows(const float* w, int in, const float* x, float* y, const float* bias, bool accumulate,
                      int cols, int o0) {
  for (int s = 0; s < cols; s += kWidth) {
    vf a[R];
    for (int r = 0; r < R; ++r)
      a[r] = accumulate ? load(y + (o0 + r) * kChunk + s) : splat(bias ? bias[o0 + r] : 0.0f);
    for (int k = 0; k < in; ++k) {
      const vf xk = load(x + k * kChunk + s);
      for (int r = 0; r < R; ++r) a[r] += xk * w[(o0 + r) * in + k];
    }
    for (int r = 0; r < R; ++r) store(y + (o0 + r) * kChunk + s, a[r]);
  }
}

MASKTERIAL_KERNEL void gemm(const float* w, int out, int in, const float* x, float* y, const float* bias, bool accumulate,
                 int cols) {
  int o = 0;
  for (; o + kRows <= out; o += kRows) gemm_rows<kRows>(w, in, x, y, bias, accumulate, cols, o);
  for (; o + 4 <= out; o += 4) gemm_rows<4>(w, in, x, y, bias, accumulate, cols, o);
  for (; o < out; ++o) gemm_rows<1>(w, in, x, y, bias, accumulate, cols, o);
}

// lane_gw[o][k] += Σ_blocks g[o][s..] · x[k][s..] (per lane) for columns k0..k0+R-1 of row o.
template <int R>
MASKTERIAL_KERNEL void weight_grad_cols(const float* go, const float* x, float* lane_gw_row, int cols, int k0) {
  vf a[R] = {};
  for (int s = 0; s < cols; s += kWidth) {
    const vf g = load(go + s);
    for (int r = 0; r < R; ++r) a[r] += g * load(x + (k0 + r) * kChunk + s);
  }
  for (int r = 0; r < R; ++r) {
    float* acc = lane_gw_row + (k0 + r) * kLanes;
    store(acc, load(acc) + a[r]);
  }
}

MASKTERIAL_KERNEL void weight_grad(const float* g, int out, const float* x, int in, const Layer& layer, int cols) {
  for (int o = 0; o < out; ++o) {
    const float* go = g + o * kChunk;
    vf bias_acc = {};
    for (int s = 0; s < cols; s += kWidth) bias_acc += load(go + s);
    store(layer.lane_gb + o * kLanes, load(layer.lane_gb + o * kLanes) + bias_acc);
    float* row = layer.lane_gw + static_cast<size_t>(o) * in * kLanes;
    int k = 0;
    for (; k + kRows <= in; k += kRows) weight_grad_cols<kRows>(go, x, row, cols, k);
    for (; k + 4 <= in; k += 4) weight_grad_cols<4>(go, x, row, cols, k);
    for (; k < in; ++k) weight_grad_cols<1>(go, x, row, cols, k);
  }
}

MASKTERIAL_KERNEL vu lane_iota() {
  vu v;
  for (int l = 0; l < kWidth; ++l) v[l] = static_cast<uint32_t>(l);
  return v;
}

// z_next = z_prev + Dropout(ELU(h)) with h read from z_next; factor = ∂z_next/∂h (dropout scale × ELU').
MASKTERIAL_KERNEL void elu_dropout(const float* z_prev, float* z_next, float* factor, int width, const Problem& p,
                        uint64_t key, int64_t first_sample, int cols) {
  const vu lanes = lane_iota() * static_cast<uint32_t>(width);
  const vf zero = {}, one = splat(1.0f), scale = splat(p.dropout_scale);
  for (int j = 0; j < width; ++j)
    for (int s = 0; s < cols; s += kWidth) {
      const int off = j * kChunk + s;
      const uint32_t first = static_cast<uint32_t>((first_sample + s) * width + j);
      const vi kept = dropout_bits(key, lanes + first) >= p.dropout_threshold;
      const vf keep = select(kept, scale, zero);
      const vf h = load(z_next + off);
      const vf ex = exp_nonpositive(select(h < 0.0f, h, zero));
      const vi positive = h > 0.0f;
      store(z_next + off, load(z_prev + off) + keep * select(positive, h, ex - 1.0f));
      store(factor + off, keep * select(positive, one, ex));
    }
}

// Replaces the logits by ∂loss/∂logits (softmax − one-hot, times the loss weight; 0 for padding columns).
MASKTERIAL_KERNEL double softmax_cross_entropy(float* logits, int classes, const Chunk& c, const Problem& p, int cols,
                             bool want_loss) {
  double loss = 0;
  for (int s = 0; s < cols; s += kWidth) {
    vi label;
    vf weight;
    for (int l = 0; l < kWidth; ++l) {
      const bool real = s + l < c.count;
      label[l] = real ? static_cast<int32_t>(c.labels[c.index[s + l]]) : -1;
      weight[l] = real ? static_cast<float>(p.loss_weight) : 0.0f;
    }
    vf top = load(logits + s);
    for (int k = 1; k < classes; ++k) top = vmax(top, load(logits + k * kChunk + s));
    vf sum = {}, label_logit = {};
    for (int k = 0; k < classes; ++k) {
      const vf v = load(logits + k * kChunk + s) - top;
      label_logit = select(label == k, v, label_logit);
      const vf e = exp_nonpositive(v);
      store(logits + k * kChunk + s, e);
      sum += e;
    }
    for (int k = 0; k < classes; ++k) {
      const vf onehot = select(label == k, splat(1.0f), vf{});
      store(logits + k * kChunk + s, (load(logits + k * kChunk + s) / sum - onehot) * weight);
    }
    if (want_loss)
      for (int l = 0; l < kWidth && s + l < c.count; ++l) loss += std::log(static_cast<double>(sum[l])) - label_logit[l];
  }
  return loss;
}

#undef MASKTERIAL_KERNEL
}  // namespace

double run(const Problem& p, const Chunk& c, float* scratch, bool want_loss) {
  const int width = p.width, in = p.layers[0].in, classes = p.classes;
  const int cols = (c.count + kLanes - 1) / kLanes * kLanes;
  float* x = scratch;                                  // in × kChunk
  float* z = x + in * kChunk;                          // (depth + 1) × width × kChunk: block outputs
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
      for (int s = 0; s < cols; s += kWidth)
        store(grad_h + j * kChunk + s, load(grad_z + j * kChunk + s) * load(f + j * kChunk + s));
    const Layer& layer = p.layers[b];
    weight_grad(grad_h, width, z_of(b - 1), width, layer, cols);
    gemm(layer.wt, width, width, grad_h, grad_z, nullptr, true, cols);  // residual: grad_z += Wᵀ grad_h
  }
  weight_grad(grad_z, width, x, in, first, cols);
  return loss;
}

}  // namespace maskterial::fcresnet_chunk::MASKTERIAL_CHUNK_VARIANT
