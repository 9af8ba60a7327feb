// `maskterial synth`: a synthetic COCO dataset of flake images rendered from thin-film optics.
#include <cstdio>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/synth/dataset_writer.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::cli {
namespace {

struct SynthArgs {
  synth::SynthRunOptions run;
  std::string out;
  std::string config_file;
  std::string material;
  bool agnostic = false;
  std::string backgrounds;
  std::string lamp, camera;
  int size = 0;
  double oxide_nm = 0;
  bool quiet = false;
};

int run(SynthArgs& args) {
  synth::SynthConfig config =
      args.config_file.empty() ? synth::SynthConfig{} : synth::SynthConfig::from_json(read_json(args.config_file), args.config_file);
  if (!args.material.empty()) config.material = args.material;
  if (args.agnostic) config.agnostic = true;
  if (args.size > 0) config.width = config.height = args.size;
  if (args.oxide_nm > 0) config.oxide_nm = args.oxide_nm;
  optics::Spectra spectra = optics::default_spectra();
  if (!args.lamp.empty()) optics::load_lamp(spectra, args.lamp);
  if (!args.camera.empty()) optics::load_camera(spectra, args.camera);
  std::shared_ptr<const synth::BackgroundLibrary> backgrounds;
  if (!args.backgrounds.empty()) {
    backgrounds = std::make_shared<synth::BackgroundLibrary>(synth::BackgroundLibrary::load({args.backgrounds}));
    spdlog::info("{} background images from {}", backgrounds->size(), args.backgrounds);
  }
  const synth::Generator generator(config, backgrounds, spectra);
  args.run.progress = !args.quiet;
  const synth::SynthRunSummary summary = synth::write_synthetic_dataset(generator, args.out, args.run);
  std::string per_class;
  for (const auto& [layers, n] : summary.instances_per_class) per_class += " " + std::to_string(layers) + ":" + std::to_string(n);
  std::string per_kind;
  for (const auto& [kind, n] : summary.junk_per_kind) per_kind += " " + synth::junk_kind_name(kind) + ":" + std::to_string(n);
  std::printf("%zu images, %zu flake regions (per layer count%s) in %s, %.1f images/s\n", summary.images,
              summary.instances, per_class.c_str(), args.out.c_str(), summary.images / std::max(1e-9, summary.seconds));
  std::printf("junk, never annotated as flakes (annotations_junk.json):%s; %zu overexposed images\n",
              per_kind.empty() ? " none" : per_kind.c_str(), summary.overexposed_images);
  return kOk;
}

}  // namespace

Runner add_synth(CLI::App& app) {
  auto args = std::make_shared<SynthArgs>();
  CLI::App* cmd = app.add_subcommand("synth", "Generate a synthetic COCO dataset of flake images from thin-film optics");
  cmd->add_option("--count", args->run.count, "Number of images")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->run.seed, "Random seed (image k is the same for a given seed)")->capture_default_str();
  cmd->add_option("-o,--out", args->out, "Output folder: images/*.png, annotations.json, annotations_agnostic.json, annotations_junk.json")
      ->required();
  auto* material = cmd->add_option("--material", args->material, "Material of the flakes (default graphene)");
  cmd->add_flag("--agnostic", args->agnostic, "Random optical constants and thicknesses per image")->excludes(material);
  cmd->add_option("--backgrounds", args->backgrounds, "Folder of real substrate images (flakes are painted out)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--size", args->size, "Image width and height in pixels (default 1024)")->check(CLI::Range(64, 16384));
  cmd->add_option("--oxide-nm", args->oxide_nm, "SiO2 thickness (default 90)")->check(CLI::PositiveNumber);
  cmd->add_option("--config", args->config_file, "JSON generator settings (any subset of the keys in annotations.json info)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--lamp", args->lamp, "Lamp spectrum file: 'wavelength_nm power' per line")->check(CLI::ExistingFile);
  cmd->add_option("--camera", args->camera, "Camera sensitivity file: 'wavelength_nm b g r' per line")
      ->check(CLI::ExistingFile);
  cmd->add_option("-j,--threads", args->run.threads, "Worker threads (0 = all cores)")->capture_default_str();
  cmd->add_flag("-q,--quiet", args->quiet, "No progress bar");
  return [args] { return run(*args); };
}

}  // namespace maskterial::cli
