// The chunk kernel compiled for generic (flags in CMakeLists.txt).
#define MASKTERIAL_CHUNK_VARIANT generic
#include "fcresnet_chunk_impl.hpp"
