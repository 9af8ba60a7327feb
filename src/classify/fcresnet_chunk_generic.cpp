// The chunk kernel compiled for generic, 4 floats per register (flags in CMakeLists.txt).
#define MASKTERIAL_CHUNK_VARIANT generic
#define MASKTERIAL_CHUNK_WIDTH 4
#include "fcresnet_chunk_impl.hpp"
