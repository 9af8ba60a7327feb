#pragma once
// Threads libtorch uses inside one operation. Batch runs that already keep every core busy with one image
// per worker set this to 1, so workers do not fight over cores.
namespace maskterial {

void set_compute_threads(int threads);
int compute_threads();

}  // namespace maskterial
