#include "fcresnet_chunk.hpp"

namespace maskterial::fcresnet_chunk {
namespace avx512 { double run(const Problem&, const Chunk&, float*, bool); }
namespace avx2 { double run(const Problem&, const Chunk&, float*, bool); }
namespace generic { double run(const Problem&, const Chunk&, float*, bool); }

namespace {
struct Kernel {
  RunFunction run;
  const char* name;
};

Kernel pick() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return {avx512::run, "avx512"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {avx2::run, "avx2"};
#endif
  return {generic::run, "generic"};
}

const Kernel& kernel() {
  static const Kernel chosen = pick();
  return chosen;
}
}  // namespace

size_t scratch_floats(const Problem& p) {
  const int in = p.layers[0].in;
  return static_cast<size_t>(kChunk) * (in + (p.depth + 1) * p.width + p.depth * p.width + p.classes + 2 * p.width);
}

RunFunction chunk_kernel() { return kernel().run; }
const char* chunk_kernel_name() { return kernel().name; }

}  // namespace maskterial::fcresnet_chunk
