#pragma once
// The BLAS kernels GEMM-heavy work runs on. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) picks its kernel family
// from the CPU model and takes CPUs newer than itself for old ones (a Sapphire-Rapids Xeon is "Prescott",
// GEMM 3–5× slower). configure_blas() runs once at start-up, before any BLAS call: when the user has not set
// OPENBLAS_CORETYPE and OpenBLAS chose a family below what the CPU's features allow, it re-initialises
// OpenBLAS with the right one (its exported gotoblas_dynamic_quit/init, as if OPENBLAS_CORETYPE had been
// set), then checks a GEMM against a reference computed in double; a kernel that computes wrong results
// (old OpenBLAS builds do on some processors) is abandoned for the one OpenBLAS chose itself.
// Other BLAS libraries (MKL in PyTorch wheels) are left alone and only self-checked.
#include <functional>
#include <string>

namespace maskterial {

struct CpuFeatures {
  bool sse3 = false, ssse3 = false, sse4_1 = false, sse4_2 = false, avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512cd = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool avx512vnni = false, avx512bf16 = false;
  std::string model;  // /proc/cpuinfo "model name"

  static CpuFeatures detect();  // what this CPU and its OS support
  std::string to_string() const;  // "sse3 ssse3 ... avx512bf16"
};

// OpenBLAS's kernel family for these features: "SkylakeX", "Haswell", "Sandybridge", or "" (no opinion).
std::string blas_kernel_for(const CpuFeatures& cpu);
// Whether OpenBLAS kernel family `detected` uses an older instruction set than `wanted` (unknown names: no).
bool blas_kernel_older_than(const std::string& detected, const std::string& wanted);

// C = A·B for row-major float matrices (m×k times k×n).
using GemmFunction = std::function<void(int m, int n, int k, const float* a, const float* b, float* c)>;
// Runs gemm on a few odd-sized products of fixed pseudo-random matrices and compares every element with a
// double-precision reference (relative to Σ|a||b|, tolerance 1e-5).
bool gemm_matches_reference(const GemmFunction& gemm);
// The process's BLAS sgemm (cblas_sgemm of the loaded BLAS), or an empty function when none is found.
GemmFunction blas_sgemm();

struct BlasStatus {
  std::string library;          // "OpenBLAS 0.3.21 DYNAMIC_ARCH ...", or "unknown (not OpenBLAS)"
  std::string detected_kernel;  // what OpenBLAS picked by itself
  std::string kernel;           // in use now
  std::string reason;           // how the kernel was chosen
  bool self_check_passed = false;
  int threads = 0;              // OpenBLAS threads (0: not OpenBLAS)
};

// Idempotent; the first call does the work. Returns the outcome (also for `maskterial doctor`).
const BlasStatus& configure_blas();
// Switches OpenBLAS to kernel family `name` (as OPENBLAS_CORETYPE=name would); false if not OpenBLAS or the
// name is unknown. Only safe while no BLAS call is running.
bool use_blas_kernel(const std::string& name);
std::string blas_kernel();    // OpenBLAS's current family ("" when not OpenBLAS)
void set_blas_threads(int threads);  // no-op when not OpenBLAS

}  // namespace maskterial
