// `maskterial optics`: predicted contrast of N layers of a 2D material on SiO2/Si in the camera's B, G, R
// channels; optionally calibrated to labelled flakes, and a zero-shot GMM written from it.
#include <algorithm>
#include <cstdio>
#include <optional>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "maskterial/coco/dataset.hpp"
#include "maskterial/optics/calibration.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::cli {
namespace {

struct OpticsArgs {
  std::string material = "graphene";
  std::string layers = "1-10";
  optics::OpticalSetup setup;
  std::string lamp, camera;
  std::string calibrate_gmm, calibrate_images, calibrate_annotations;
  std::string gmm_out;
  double gmm_sigma = 0.02;
  bool json = false;
};

// "1-10", "3", "1,2,5", "1-4,7" -> sorted unique layer counts >= 1.
std::vector<int> parse_layers(const std::string& text) {
  std::vector<int> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    int from = 0, to = 0;
    char tail = 0;
    if (std::sscanf(part.c_str(), "%d-%d%c", &from, &to, &tail) == 2 ||
        (std::sscanf(part.c_str(), "%d%c", &from, &tail) == 1 && (to = from))) {
      if (from < 1 || to < from || to > 1000) throw Error("--layers: bad range '" + part + "'");
      for (int n = from; n <= to; ++n) out.push_back(n);
    } else {
      throw Error("--layers: expected e.g. 1-10 or 1,2,5, got '" + text + "'");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int run(OpticsArgs& args) {
  const optics::Material& material = optics::find_material(args.material);
  const std::vector<int> layers = parse_layers(args.layers);
  if (!args.lamp.empty()) optics::load_lamp(args.setup.spectra, args.lamp);
  if (!args.camera.empty()) optics::load_camera(args.setup.spectra, args.camera);

  nlohmann::ordered_json report;
  std::vector<optics::MeasuredContrast> measured;
  if (!args.calibrate_gmm.empty()) measured = optics::gmm_contrasts(GmmClassifier::load(args.calibrate_gmm));
  if (!args.calibrate_images.empty())
    measured = optics::measure_contrasts(coco::read_dataset(args.calibrate_annotations), args.calibrate_images);
  std::optional<optics::Calibration> calibration;
  if (!measured.empty()) {
    calibration = optics::calibrate(material, measured, args.setup);
    args.setup = calibration->setup;
  }

  report["material"] = material.name;
  report["oxide_nm"] = args.setup.oxide_nm;
  nlohmann::ordered_json contrasts = nlohmann::ordered_json::object();
  for (int n : layers) {
    const Bgr c = optics::layer_contrast(args.setup, material, n);
    contrasts[std::to_string(n)] = {c[0], c[1], c[2]};
  }
  report["contrast_bgr"] = contrasts;
  if (calibration) report["calibration"] = calibration->to_json();

  if (!args.gmm_out.empty()) {
    optics::physics_gmm(args.setup, material, layers.back(), args.gmm_sigma).save_parameters(args.gmm_out);
    spdlog::info("zero-shot GMM ({} classes) written to {}", layers.back(), args.gmm_out);
  }

  if (args.json) {
    std::printf("%s\n", report.dump(2).c_str());
    return kOk;
  }
  std::printf("%s on %.1f nm SiO2/Si (%s)\n", material.name.c_str(), args.setup.oxide_nm, material.source.c_str());
  if (calibration) {
    const auto& g = args.setup.contrast_gamma;
    std::printf("calibrated: oxide %.1f nm, gamma B %.3f G %.3f R %.3f, rms residual %.4f over %zu layer counts\n",
                args.setup.oxide_nm, g[0], g[1], g[2], calibration->rms_residual, measured.size());
  }
  std::printf("layers  contrast B  contrast G  contrast R\n");
  for (int n : layers) {
    const auto& c = contrasts[std::to_string(n)];
    std::printf("%6d  %10.4f  %10.4f  %10.4f\n", n, c[0].get<double>(), c[1].get<double>(), c[2].get<double>());
  }
  return kOk;
}

}  // namespace

Runner add_optics(CLI::App& app) {
  auto args = std::make_shared<OpticsArgs>();
  CLI::App* cmd = app.add_subcommand("optics", "Thin-film optics: predicted contrast per layer count (B, G, R)");
  cmd->add_option("--material", args->material, "graphene, hbn, mos2, wse2, mose2, ws2, cri3 or tas2")
      ->capture_default_str();
  cmd->add_option("--oxide-nm", args->setup.oxide_nm, "SiO2 thickness (nm); the start value when calibrating")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--layers", args->layers, "Layer counts, e.g. 1-10 or 1,2,5")->capture_default_str();
  cmd->add_option("--na", args->setup.numerical_aperture, "Average over the illumination cone of this NA (0 = normal)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.95));
  cmd->add_option("--lamp", args->lamp, "Lamp spectrum file: 'wavelength_nm power' per line")->check(CLI::ExistingFile);
  cmd->add_option("--camera", args->camera, "Camera sensitivity file: 'wavelength_nm b g r' per line")
      ->check(CLI::ExistingFile);
  auto* gmm = cmd->add_option("--calibrate-gmm", args->calibrate_gmm,
                              "Fit oxide and tone response to the class means of a GMM (classes = layer counts)")
                  ->check(CLI::ExistingFile);
  auto* images = cmd->add_option("--calibrate-images", args->calibrate_images,
                                 "Fit to labelled flakes: images folder (with --calibrate-annotations)")
                     ->check(CLI::ExistingDirectory);
  auto* annotations = cmd->add_option("--calibrate-annotations", args->calibrate_annotations,
                                      "COCO JSON whose categories are layer counts")
                          ->check(CLI::ExistingFile);
  images->needs(annotations);
  annotations->needs(images);
  gmm->excludes(images);
  cmd->add_option("--gmm-out", args->gmm_out, "Write a zero-shot GMM (classes 1..max layers) from the physics");
  cmd->add_option("--gmm-sigma", args->gmm_sigma, "Standard deviation of each zero-shot class (contrast units)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", args->json, "Print JSON: {material, oxide_nm, contrast_bgr: {layers: [b, g, r]}}");
  return [args] { return run(*args); };
}

}  // namespace maskterial::cli
