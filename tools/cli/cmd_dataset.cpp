// `maskterial dataset`: turn a folder of mask PNGs into a COCO instances file, so labelled images from any
// tool can be fine-tuned on (`finetune`, `train-classifier`) and scored (`eval --gt`).
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/coco/dataset.hpp"

namespace maskterial::cli {

Runner add_dataset(CLI::App& app) {
  struct Args {
    std::string images, instance_masks, semantic_masks, out;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("dataset", "Write a COCO instances JSON from a folder of mask PNGs");
  add_image_limit(*cmd);
  cmd->add_option("--images", args->images, "Folder of the images the masks belong to")
      ->required()
      ->check(CLI::ExistingDirectory);
  auto* instance = cmd->add_option("--instance-masks", args->instance_masks,
                                   "Instance masks (PNG named like the images, pixel = instance id): category 1")
                       ->check(CLI::ExistingDirectory);
  auto* semantic = cmd->add_option("--masks", args->semantic_masks,
                                   "Or: semantic masks (pixel = class id): each connected region is an instance")
                       ->check(CLI::ExistingDirectory);
  instance->excludes(semantic);
  cmd->add_option("-o,--out", args->out, "COCO JSON to write")->required();
  return [args] {
    if (args->instance_masks.empty() == args->semantic_masks.empty()) {
      spdlog::error("dataset needs --instance-masks DIR or --masks DIR");
      return static_cast<int>(kUsage);
    }
    const coco::Dataset dataset = args->instance_masks.empty()
                                      ? coco::read_semantic_mask_folder(args->images, args->semantic_masks)
                                      : coco::read_instance_mask_folder(args->images, args->instance_masks);
    coco::write_dataset(args->out, dataset);
    spdlog::info("{}: {} image(s), {} instance(s)", args->out, dataset.images.size(), dataset.annotations.size());
    return static_cast<int>(kOk);
  };
}

}  // namespace maskterial::cli
