// The chunk kernel compiled for avx2, 8 floats per register (flags in CMakeLists.txt).
#define MASKTERIAL_CHUNK_VARIANT avx2
#define MASKTERIAL_CHUNK_WIDTH 8
#include "fcresnet_chunk_impl.hpp"
