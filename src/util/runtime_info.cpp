#include "maskterial/util/runtime_info.hpp"

#include <dlfcn.h>

#include <sstream>
#include <thread>

#include <ATen/Parallel.h>
#include <opencv2/core/utility.hpp>
#include <torch/version.h>

#include "maskterial/classify/fcresnet_trainer.hpp"
#include "maskterial/util/blas_runtime.hpp"

namespace maskterial {
namespace {

// oneDNN (libdnnl, loaded by libtorch) through its C API, looked up at run time: no headers needed.
std::string onednn_description() {
  struct Version {
    int major, minor, patch;
    const char* hash;
  };
  const auto version = reinterpret_cast<const Version* (*)()>(dlsym(RTLD_DEFAULT, "dnnl_version"));
  const auto isa = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "dnnl_get_effective_cpu_isa"));
  if (!version) return "not loaded";
  const Version* v = version();
  std::ostringstream out;
  out << "v" << v->major << "." << v->minor << "." << v->patch;
  if (isa) {
    const int value = isa();  // dnnl_cpu_isa_t of oneDNN 2.x
    const char* name = value == 0x1 ? "sse41" : value == 0x3 ? "avx" : value == 0x7 ? "avx2"
                     : value == 0x27 ? "avx512_core" : value == 0x67 ? "avx512_core_vnni"
                     : value == 0xe7 ? "avx512_core_bf16" : value == 0x3e7 ? "avx512_core_amx" : nullptr;
    out << ", instruction set " << (name ? name : "code") << " (0x" << std::hex << value << ")";
  }
  return out.str();
}

}  // namespace

std::string runtime_report() {
  const CpuFeatures cpu = CpuFeatures::detect();
  const BlasStatus& blas = configure_blas();
  std::ostringstream out;
  out << "CPU: " << (cpu.model.empty() ? "unknown" : cpu.model) << ", " << std::thread::hardware_concurrency()
      << " logical cores\n";
  out << "CPU features: " << cpu.to_string() << "\n";
  out << "BLAS: " << blas.library << "\n";
  out << "BLAS kernel: " << (blas.kernel.empty() ? "n/a" : blas.kernel) << " (" << blas.reason << ")";
  if (!blas.detected_kernel.empty() && blas.detected_kernel != blas.kernel)
    out << ", OpenBLAS detected " << blas.detected_kernel;
  out << "\nBLAS GEMM self-check: " << (blas.self_check_passed ? "passed" : "FAILED") << "\n";
  out << "BLAS threads: " << blas.threads << "\n";
  out << "libtorch: " << TORCH_VERSION << ", intra-op threads " << at::get_num_threads() << ", inter-op threads "
      << at::get_num_interop_threads() << "\n";
  out << "oneDNN: " << onednn_description() << "\n";
  out << "OpenCV: " << cv::getVersionString() << ", threads " << cv::getNumThreads() << "\n";
  out << "FCResNet training kernel: " << FCResNetTrainer::best_instruction_set() << "\n";
  return out.str();
}

}  // namespace maskterial
