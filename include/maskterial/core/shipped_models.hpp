#pragma once
// Model directories shipped in the repository's models/ folder. They are looked up in $MASKTERIAL_MODELS (a
// copy of that folder), else where an installed program keeps them (../share/maskterial/models from the
// program's own folder), else in the source tree the program was built from.
#include <string>

namespace maskterial {

std::string models_root();
// detect's default segmentation model: lite, pretrained on synthetic images, then adapted (class agnostic)
// to the annotated real images of the shared data.
std::string shipped_segmenter_dir();
// finetune's default starting point: lite after synthetic pretraining only (it has seen no real image).
std::string shipped_pretrained_segmenter_dir();

}  // namespace maskterial
