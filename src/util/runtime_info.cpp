#include "maskterial/util/runtime_info.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <thread>

#include <ATen/Parallel.h>
#include <opencv2/core/utility.hpp>
#include <torch/version.h>

#include "maskterial/classify/fcresnet_trainer.hpp"
#include "maskterial/util/blas_runtime.hpp"
#include "maskterial/util/idle_threads.hpp"

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

// Whether the launcher set this variable (it lists them in kIdleThreadMarker).
bool set_at_start_up(const char* variable) {
  const char* marker = std::getenv(kIdleThreadMarker);
  if (!marker) return false;
  const std::string list = std::string(",") + marker + ",";
  return list.find(std::string(",") + variable + ",") != std::string::npos;
}

}  // namespace

std::string idle_thread_report() {
  std::ostringstream out;
  for (const IdleThreadSetting& setting : kIdleThreadSettings) {
    const char* value = std::getenv(setting.variable);
    const char* alternative = setting.user_alternative ? std::getenv(setting.user_alternative) : nullptr;
    out << "Idle threads: " << setting.variable << "=" << (value ? value : "(not set)");
    if (value && set_at_start_up(setting.variable)) out << " (maskterial's default)";
    else if (value) out << " (set by the user)";
    else if (alternative) out << " (" << setting.user_alternative << "=" << alternative << " set by the user)";
    else out << " (the library's default: idle threads spin)";
    out << "\n";
  }
  // What OpenBLAS itself read when it loaded (0: its default of 2^28 cycles).
  if (const auto timeout = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_thread_timeout")))
    out << "OpenBLAS idle spin: " << (timeout() > 0 ? "2^" + std::to_string(std::clamp(timeout(), 4, 30))
                                                    : std::string("2^28 (default)")) << " cycles\n";
  return out.str();
}

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
  out << idle_thread_report();
  out << "FCResNet training kernel: " << FCResNetTrainer::best_instruction_set() << "\n";
  return out.str();
}

}  // namespace maskterial
