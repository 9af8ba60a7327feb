// BLAS kernel choice and GEMM self-check (blas_runtime.hpp), and the runtime report of `maskterial doctor`.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "maskterial/util/blas_runtime.hpp"
#include "maskterial/util/runtime_info.hpp"

using namespace maskterial;

namespace {

void naive_gemm(int m, int n, int k, const float* a, const float* b, float* c) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float s = 0;
      for (int p = 0; p < k; ++p) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
}

maskterial::CpuFeatures sapphire_rapids() {
  maskterial::CpuFeatures f;
  f.sse3 = f.ssse3 = f.sse4_1 = f.sse4_2 = f.avx = f.avx2 = f.fma = true;
  f.avx512f = f.avx512cd = f.avx512bw = f.avx512dq = f.avx512vl = f.avx512vnni = f.avx512bf16 = true;
  return f;
}

}  // namespace

TEST(BlasKernel, FamilyFollowsTheCpuFeatures) {
  maskterial::CpuFeatures f = sapphire_rapids();
  EXPECT_EQ(blas_kernel_for(f), "SkylakeX");
  f.avx512bw = false;  // AVX-512 without the byte/word instructions SkylakeX kernels use
  EXPECT_EQ(blas_kernel_for(f), "Haswell");
  f.avx512f = f.avx2 = false;
  EXPECT_EQ(blas_kernel_for(f), "Sandybridge");
  EXPECT_EQ(blas_kernel_for(maskterial::CpuFeatures{}), "");
}

TEST(BlasKernel, OnlyOlderFamiliesAreReplaced) {
  EXPECT_TRUE(blas_kernel_older_than("Prescott", "SkylakeX"));  // Debian's OpenBLAS on a Sapphire-Rapids Xeon
  EXPECT_TRUE(blas_kernel_older_than("Core2", "Haswell"));
  EXPECT_FALSE(blas_kernel_older_than("Cooperlake", "SkylakeX"));  // same instruction set, newer name
  EXPECT_FALSE(blas_kernel_older_than("Zen", "Haswell"));
  EXPECT_FALSE(blas_kernel_older_than("SkylakeX", "Haswell"));
  EXPECT_FALSE(blas_kernel_older_than("SomeFutureCore", "SkylakeX"));  // unknown: leave OpenBLAS's choice
}

TEST(GemmSelfCheck, AcceptsCorrectProductsAndRejectsWrongOnes) {
  EXPECT_TRUE(gemm_matches_reference(naive_gemm));
  const GemmFunction blas = blas_sgemm();
  ASSERT_TRUE(blas) << "libtorch's BLAS exports cblas_sgemm";
  EXPECT_TRUE(gemm_matches_reference(blas));

  // Kernels that are wrong in the ways broken builds are: a dropped term, one bad element, garbage.
  EXPECT_FALSE(gemm_matches_reference([](int m, int n, int k, const float* a, const float* b, float* c) {
    naive_gemm(m, n, k > 1 ? k - 1 : k, a, b, c);
  }));
  EXPECT_FALSE(gemm_matches_reference([&](int m, int n, int k, const float* a, const float* b, float* c) {
    blas(m, n, k, a, b, c);
    if (m * n > 100) c[m * n - 1] *= 1.001f;
  }));
  EXPECT_FALSE(gemm_matches_reference([](int m, int n, int, const float*, const float*, float* c) {
    for (int i = 0; i < m * n; ++i) c[i] = NAN;
  }));
}

TEST(BlasRuntime, SwitchesOpenBlasKernelsInProcessAndBack) {
  const BlasStatus& status = configure_blas();
  if (status.detected_kernel.empty()) GTEST_SKIP() << "not a DYNAMIC_ARCH OpenBLAS: " << status.library;
  const std::string before = blas_kernel();
  ASSERT_TRUE(use_blas_kernel("Prescott"));
  EXPECT_EQ(blas_kernel(), "Prescott");
  EXPECT_TRUE(gemm_matches_reference(blas_sgemm()));
  EXPECT_FALSE(use_blas_kernel("NoSuchCore"));
  EXPECT_EQ(blas_kernel(), "Prescott");
  ASSERT_TRUE(use_blas_kernel(before));
  EXPECT_EQ(blas_kernel(), before);
}

TEST(BlasRuntime, StartUpKernelUsesWhatTheCpuHasAndPassesTheSelfCheck) {
  const BlasStatus& status = configure_blas();
  EXPECT_TRUE(status.self_check_passed) << status.library << " " << status.kernel;
  if (status.detected_kernel.empty() || std::getenv("OPENBLAS_CORETYPE")) GTEST_SKIP() << status.reason;
  // On CPUs OpenBLAS misdetects (a Sapphire-Rapids Xeon as "Prescott") this holds only through the switch.
  EXPECT_FALSE(blas_kernel_older_than(status.kernel, blas_kernel_for(maskterial::CpuFeatures::detect())))
      << status.kernel << ": " << status.reason;
}

TEST(RuntimeReport, NamesKernelThreadsOneDnnAndCpuFeatures) {
  const std::string report = runtime_report();
  for (const char* line : {"CPU: ", "CPU features: ", "BLAS: ", "BLAS kernel: ", "BLAS GEMM self-check: passed",
                           "BLAS threads: ", "libtorch: ", "oneDNN: ", "FCResNet training kernel: "})
    EXPECT_NE(report.find(line), std::string::npos) << line << " missing from\n" << report;
}
