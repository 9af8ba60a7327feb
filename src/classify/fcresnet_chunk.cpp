#include "fcresnet_chunk.hpp"

namespace maskterial::fcresnet_chunk {
namespace avx512 { double run(const Problem&, const Chunk&, float*, bool); }
namespace avx2 { double run(const Problem&, const Chunk&, float*, bool); }
namespace generic { double run(const Problem&, const Chunk&, float*, bool); }

namespace {
bool cpu_has(const std::string& instruction_set) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (instruction_set == "avx512") return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  if (instruction_set == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return instruction_set == "generic";
}
}  // namespace

const char* best_instruction_set() {
  static const char* const best = cpu_has("avx512") ? "avx512" : cpu_has("avx2") ? "avx2" : "generic";
  return best;
}

RunFunction chunk_kernel(const std::string& instruction_set) {
  if (!cpu_has(instruction_set)) return nullptr;
  return instruction_set == "avx512" ? avx512::run : instruction_set == "avx2" ? avx2::run : generic::run;
}

size_t scratch_floats(const Problem& p) {
  const int in = p.layers[0].in;
  return static_cast<size_t>(kChunk) * (in + (p.depth + 1) * p.width + p.depth * p.width + p.classes + 2 * p.width);
}

}  // namespace maskterial::fcresnet_chunk
