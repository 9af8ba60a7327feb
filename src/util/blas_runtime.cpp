#include "maskterial/util/blas_runtime.hpp"

#include <dlfcn.h>
#include <strings.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

#include <spdlog/spdlog.h>

namespace maskterial {
namespace {

template <class F>
F symbol(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}

// OpenBLAS's exported entry points, looked up in the running process (it is loaded through libtorch).
struct OpenBlas {
  char* (*corename)() = symbol<char* (*)()>("openblas_get_corename");
  char* (*config)() = symbol<char* (*)()>("openblas_get_config");
  void (*dynamic_quit)() = symbol<void (*)()>("gotoblas_dynamic_quit");
  void (*dynamic_init)() = symbol<void (*)()>("gotoblas_dynamic_init");
  int (*get_threads)() = symbol<int (*)()>("openblas_get_num_threads");
  void (*set_threads)(int) = symbol<void (*)(int)>("openblas_set_num_threads");
  bool dynamic() const { return corename && dynamic_quit && dynamic_init; }
};

const OpenBlas& openblas() {
  static const OpenBlas loaded;
  return loaded;
}

// Instruction-set level of OpenBLAS's x86 kernel families (names as openblas_get_corename spells them).
int isa_rank(const std::string& name) {
  static const std::map<std::string, int> ranks = {
      {"katmai", 1},      {"coppermine", 1}, {"northwood", 1},   {"banias", 1},      {"athlon", 1},
      {"prescott", 2},    {"opteron", 2},    {"opteron_sse3", 2}, {"core2", 3},      {"atom", 3},
      {"nano", 3},        {"penryn", 4},     {"dunnington", 4},  {"barcelona", 4},   {"bobcat", 4},
      {"nehalem", 5},     {"sandybridge", 6}, {"bulldozer", 6},  {"piledriver", 6},  {"steamroller", 6},
      {"excavator", 7},   {"haswell", 7},    {"zen", 7},         {"skylakex", 8},    {"cooperlake", 8},
      {"sapphirerapids", 8}};
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto it = ranks.find(lower);
  return it == ranks.end() ? -1 : it->second;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(std::min(line.size(), colon + 2));
    }
  return "";
}

}  // namespace

CpuFeatures CpuFeatures::detect() {
  CpuFeatures f;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  f.sse3 = __builtin_cpu_supports("sse3");
  f.ssse3 = __builtin_cpu_supports("ssse3");
  f.sse4_1 = __builtin_cpu_supports("sse4.1");
  f.sse4_2 = __builtin_cpu_supports("sse4.2");
  f.avx = __builtin_cpu_supports("avx");
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512cd = __builtin_cpu_supports("avx512cd");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  f.model = cpu_model();
  return f;
}

std::string CpuFeatures::to_string() const {
  const std::pair<bool, const char*> flags[] = {
      {sse3, "sse3"},         {ssse3, "ssse3"},         {sse4_1, "sse4.1"},       {sse4_2, "sse4.2"},
      {avx, "avx"},           {avx2, "avx2"},           {fma, "fma"},             {avx512f, "avx512f"},
      {avx512cd, "avx512cd"}, {avx512bw, "avx512bw"},   {avx512dq, "avx512dq"},   {avx512vl, "avx512vl"},
      {avx512vnni, "avx512vnni"}, {avx512bf16, "avx512bf16"}};
  std::string out;
  for (const auto& [on, name] : flags)
    if (on) out += (out.empty() ? "" : " ") + std::string(name);
  return out.empty() ? "none of the x86 SIMD extensions" : out;
}

std::string blas_kernel_for(const CpuFeatures& cpu) {
  if (cpu.avx512f && cpu.avx512cd && cpu.avx512bw && cpu.avx512dq && cpu.avx512vl) return "SkylakeX";
  if (cpu.avx2 && cpu.fma) return "Haswell";
  if (cpu.avx) return "Sandybridge";
  return "";
}

bool blas_kernel_older_than(const std::string& detected, const std::string& wanted) {
  const int d = isa_rank(detected), w = isa_rank(wanted);
  return d >= 0 && w >= 0 && d < w;
}

bool gemm_matches_reference(const GemmFunction& gemm) {
  // Odd sizes reach the kernels' edge cases as well as their main loops.
  const int sizes[][3] = {{1, 1, 1}, {7, 5, 3}, {67, 45, 131}, {128, 96, 64}, {33, 257, 19}};
  uint32_t state = 12345;
  const auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(state >> 8) / 8388608.0f - 1.0f;  // [-1, 1)
  };
  for (const auto& [m, n, k] : sizes) {
    std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n), c(static_cast<size_t>(m) * n, NAN);
    for (float& v : a) v = next();
    for (float& v : b) v = next();
    gemm(m, n, k, a.data(), b.data(), c.data());
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double exact = 0, magnitude = 0;
        for (int p = 0; p < k; ++p) {
          const double term = static_cast<double>(a[static_cast<size_t>(i) * k + p]) * b[static_cast<size_t>(p) * n + j];
          exact += term;
          magnitude += std::abs(term);
        }
        if (!(std::abs(c[static_cast<size_t>(i) * n + j] - exact) <= 1e-5 * magnitude + 1e-30)) return false;
      }
  }
  return true;
}

GemmFunction blas_sgemm() {
  using Cblas = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
  const auto cblas = symbol<Cblas>("cblas_sgemm");
  if (!cblas) return {};
  return [cblas](int m, int n, int k, const float* a, const float* b, float* c) {
    constexpr int kRowMajor = 101, kNoTrans = 111;
    cblas(kRowMajor, kNoTrans, kNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
  };
}

std::string blas_kernel() {
  const OpenBlas& ob = openblas();
  return ob.corename ? ob.corename() : "";
}

bool use_blas_kernel(const std::string& name) {
  const OpenBlas& ob = openblas();
  if (!ob.dynamic() || isa_rank(name) < 0) return false;
  const std::string previous = blas_kernel();
  const char* user = std::getenv("OPENBLAS_CORETYPE");
  const std::string saved = user ? user : "";
  const auto reinit = [&](const std::string& kernel) {
    setenv("OPENBLAS_CORETYPE", kernel.c_str(), 1);
    ob.dynamic_quit();
    ob.dynamic_init();
  };
  reinit(name);
  const bool switched = strcasecmp(blas_kernel().c_str(), name.c_str()) == 0;
  if (!switched) reinit(previous);  // this OpenBLAS build does not have that family
  // Leave the environment as it was, so child processes decide for themselves.
  if (user) setenv("OPENBLAS_CORETYPE", saved.c_str(), 1);
  else unsetenv("OPENBLAS_CORETYPE");
  return switched;
}

void set_blas_threads(int threads) {
  const OpenBlas& ob = openblas();
  if (ob.set_threads && threads > 0) ob.set_threads(threads);
}

const BlasStatus& configure_blas() {
  static BlasStatus status;
  static std::once_flag once;
  std::call_once(once, [] {
    const OpenBlas& ob = openblas();
    const GemmFunction gemm = blas_sgemm();
    if (!ob.dynamic()) {
      status.library = ob.config ? ob.config() : gemm ? "not OpenBLAS (cblas_sgemm found)" : "no CBLAS found";
      status.kernel = blas_kernel();
      status.reason = "left as the BLAS library chose";
    } else {
      status.library = ob.config();
      status.detected_kernel = blas_kernel();
      const char* user = std::getenv("OPENBLAS_CORETYPE");
      const std::string wanted = blas_kernel_for(CpuFeatures::detect());
      if (user && *user) {
        status.reason = std::string("set by OPENBLAS_CORETYPE=") + user;
      } else if (blas_kernel_older_than(status.detected_kernel, wanted) && use_blas_kernel(wanted)) {
        status.reason = "chosen from the CPU's features (OpenBLAS took this CPU for " + status.detected_kernel + ")";
        if (!gemm_matches_reference(gemm)) {
          use_blas_kernel(status.detected_kernel);
          status.reason = wanted + " failed the GEMM self-check; kept OpenBLAS's own choice";
        }
      } else {
        status.reason = "detected by OpenBLAS";
      }
      status.kernel = blas_kernel();
    }
    status.self_check_passed = gemm && gemm_matches_reference(gemm);
    if (gemm && !status.self_check_passed)
      spdlog::warn("BLAS self-check failed: matrix products of {} ({}) are wrong on this CPU", status.library,
                   status.kernel);
    status.threads = ob.get_threads ? ob.get_threads() : 0;
  });
  return status;
}

}  // namespace maskterial
