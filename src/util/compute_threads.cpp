#include "maskterial/util/compute_threads.hpp"

#include <ATen/Parallel.h>

namespace maskterial {

void set_compute_threads(int threads) {
  if (threads > 0) at::set_num_threads(threads);
}

int compute_threads() { return at::get_num_threads(); }

}  // namespace maskterial
