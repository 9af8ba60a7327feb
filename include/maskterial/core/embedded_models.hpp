#pragma once
// Models compiled into the library so the tool works out of the box.
#include <string>

namespace maskterial {

// GMM parameters of 2DMatGMM for graphene (1-4 layers, 90 nm SiO2, 20x), 2DMatGMM JSON format.
const char* default_gmm_json();
constexpr const char* kDefaultGmmName = "graphene_2dmatgmm (built in)";
// Its content hash (util/files.hpp content_hash of the file gmm.json), as results record it.
std::string default_gmm_hash();

}  // namespace maskterial
