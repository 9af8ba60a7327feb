#pragma once
// Threads one operation may use: libtorch's intra-op pool, OpenBLAS's own pool (libtorch does not size it)
// and OpenCV's. Batch runs and servers that already keep every core busy with one image per worker set this
// to 1, so workers do not fight over cores and no pool wakes up (or spins) for nothing.
namespace maskterial {

void set_compute_threads(int threads);
int compute_threads();

}  // namespace maskterial
