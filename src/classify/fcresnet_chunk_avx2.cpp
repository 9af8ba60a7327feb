// The chunk kernel compiled for avx2 (flags in CMakeLists.txt).
#define MASKTERIAL_CHUNK_VARIANT avx2
#include "fcresnet_chunk_impl.hpp"
