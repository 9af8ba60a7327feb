#pragma once
// Settings shared by the command line, the server and its training jobs, defined once here (detector
// thresholds live in DetectorOptions, the segmenter's score threshold in segment/instance_segmenter.hpp,
// each fine-tuning schedule in the segmentation model registry).
namespace maskterial {

constexpr const char* kVersion = MASKTERIAL_VERSION;  // the CMake project's version

}  // namespace maskterial
