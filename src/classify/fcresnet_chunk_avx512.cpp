// The chunk kernel compiled for avx512 (flags in CMakeLists.txt).
#define MASKTERIAL_CHUNK_VARIANT avx512
#include "fcresnet_chunk_impl.hpp"
