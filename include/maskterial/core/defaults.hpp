#pragma once
// Settings shared by the command line, the server and its training jobs, defined once here (detector
// thresholds live in DetectorOptions, the segmenter's score threshold in segment/instance_segmenter.hpp,
// each fine-tuning schedule in the segmentation model registry).
namespace maskterial {

constexpr const char* kVersion = MASKTERIAL_VERSION;  // the CMake project's version
// Side of fine-tuning crops: 384 px keep a 500-step run on a laptop CPU to minutes (MaskTerial: 512).
constexpr int kFinetuneCropSize = 384;

}  // namespace maskterial
