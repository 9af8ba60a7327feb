// The chunk kernel compiled for avx512, 16 floats per register (flags in CMakeLists.txt).
#define MASKTERIAL_CHUNK_VARIANT avx512
#define MASKTERIAL_CHUNK_WIDTH 16
#include "fcresnet_chunk_impl.hpp"
