#include "maskterial/util/compute_threads.hpp"

#include <ATen/Parallel.h>
#include <opencv2/core/utility.hpp>

#include "maskterial/util/blas_runtime.hpp"

namespace maskterial {

void set_compute_threads(int threads) {
  if (threads <= 0) return;
  at::set_num_threads(threads);
  set_blas_threads(threads);
  cv::setNumThreads(threads);
}

int compute_threads() { return at::get_num_threads(); }

}  // namespace maskterial
