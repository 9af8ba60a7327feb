// SynthConfig <-> JSON: one list of fields serves both directions.
#include <set>

#include "maskterial/synth/generator.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::synth {
namespace {

template <class Config, class Visit>
void for_each_field(Config& c, Visit&& visit) {
  visit("width", c.width);
  visit("height", c.height);
  visit("material", c.material);
  visit("agnostic", c.agnostic);
  visit("oxide_nm", c.oxide_nm);
  visit("oxide_jitter_nm", c.oxide_jitter_nm);
  visit("max_layers", c.max_layers);
  visit("min_flakes", c.min_flakes);
  visit("max_flakes", c.max_flakes);
  visit("min_flake_px", c.min_flake_px);
  visit("max_flake_px", c.max_flake_px);
  visit("max_elongation", c.max_elongation);
  visit("terrace_probability", c.terrace_probability);
  visit("bulk_probability", c.bulk_probability);
  visit("attached_flake_share", c.attached_flake_share);
  visit("max_bulk_fragments", c.max_bulk_fragments);
  visit("halo_probability", c.halo_probability);
  visit("halo_max_px", c.halo_max_px);
  visit("halo_max_contrast", c.halo_max_contrast);
  visit("residue_probability", c.residue_probability);
  visit("max_dirt", c.max_dirt);
  visit("blur_sigma_min", c.blur_sigma_min);
  visit("blur_sigma_max", c.blur_sigma_max);
  visit("noise_sigma_min", c.noise_sigma_min);
  visit("noise_sigma_max", c.noise_sigma_max);
  visit("jpeg_probability", c.jpeg_probability);
  visit("jpeg_quality_min", c.jpeg_quality_min);
  visit("jpeg_quality_max", c.jpeg_quality_max);
  visit("white_balance_jitter", c.white_balance_jitter);
  visit("vignetting_max", c.vignetting_max);
  visit("illumination_gradient_max", c.illumination_gradient_max);
  visit("unevenness_max", c.unevenness_max);
  visit("real_background_share", c.real_background_share);
  visit("exposure_min", c.exposure_min);
  visit("exposure_max", c.exposure_max);
  visit("agnostic_n_min", c.agnostic_n_min);
  visit("agnostic_n_max", c.agnostic_n_max);
  visit("agnostic_k_max", c.agnostic_k_max);
  visit("agnostic_transparent_share", c.agnostic_transparent_share);
  visit("agnostic_layer_nm_min", c.agnostic_layer_nm_min);
  visit("agnostic_layer_nm_max", c.agnostic_layer_nm_max);
  visit("agnostic_oxide_min_nm", c.agnostic_oxide_min_nm);
  visit("agnostic_oxide_max_nm", c.agnostic_oxide_max_nm);
  visit("edge_blur_probability", c.edge_blur_probability);
  visit("edge_blur_min_px", c.edge_blur_min_px);
  visit("edge_blur_max_px", c.edge_blur_max_px);
  visit("tinted_crystal_share", c.tinted_crystal_share);
  visit("marker_probability", c.marker_probability);
  visit("marker_pitch_min_px", c.marker_pitch_min_px);
  visit("marker_pitch_max_px", c.marker_pitch_max_px);
  visit("marker_label_probability", c.marker_label_probability);
  visit("scratch_probability", c.scratch_probability);
  visit("max_scratches", c.max_scratches);
  visit("residue_texture", c.residue_texture);
  visit("max_bright_dirt", c.max_bright_dirt);
  visit("max_dirt_blobs", c.max_dirt_blobs);
  visit("saturation_probability", c.saturation_probability);
  visit("saturation_overshoot_min", c.saturation_overshoot_min);
  visit("saturation_overshoot_max", c.saturation_overshoot_max);
  visit("flake_contrasts", c.flake_contrasts);
  visit("flake_contrast_jitter", c.flake_contrast_jitter);
}

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("synth config: " + what);
}

}  // namespace

SynthConfig SynthConfig::without_scan_junk() const {
  SynthConfig c = *this;
  c.edge_blur_probability = c.tinted_crystal_share = c.marker_probability = c.scratch_probability = 0;
  c.saturation_probability = c.residue_texture = 0;
  c.max_bright_dirt = c.max_dirt_blobs = 0;
  return c;
}

int SynthConfig::flake_classes() const {
  return flake_contrasts.empty() ? max_layers : static_cast<int>(flake_contrasts.size());
}

nlohmann::json SynthConfig::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for_each_field(*this, [&](const char* key, const auto& value) { out[key] = value; });
  return out;
}

SynthConfig SynthConfig::from_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) throw file_error(source, "synth config must be a JSON object");
  SynthConfig config;
  std::set<std::string> known;
  for_each_field(config, [&](const char* key, auto& value) {
    known.insert(key);
    if (!json.contains(key)) return;
    try {
      json.at(key).get_to(value);
    } catch (const nlohmann::json::exception&) {
      throw file_error(source, std::string("'") + key + "' has the wrong type");
    }
  });
  for (const auto& item : json.items())
    if (!known.count(item.key())) throw file_error(source, "unknown key '" + item.key() + "'");
  try {
    config.validate();
  } catch (const Error& e) {
    throw file_error(source, e.what());
  }
  return config;
}

void SynthConfig::validate() const {
  require(width >= 64 && height >= 64 && width <= 16384 && height <= 16384, "width and height must be 64..16384");
  require(max_layers >= 1 && max_layers <= 100, "max_layers must be 1..100");
  require(min_flakes >= 0 && max_flakes >= min_flakes && max_flakes <= 100, "need 0 <= min_flakes <= max_flakes <= 100");
  require(min_flake_px > 1 && max_flake_px >= min_flake_px, "need 1 < min_flake_px <= max_flake_px");
  require(max_elongation >= 1, "max_elongation must be >= 1");
  for (double p : {terrace_probability, bulk_probability, attached_flake_share, residue_probability, jpeg_probability})
    require(p >= 0 && p <= 1, "probabilities must be in [0, 1]");
  require(halo_probability >= 0 && halo_probability <= 1 && real_background_share >= 0 && real_background_share <= 1 &&
              agnostic_transparent_share >= 0 && agnostic_transparent_share <= 1,
          "halo_probability, real_background_share and agnostic_transparent_share must be in [0, 1]");
  require(halo_max_px >= 1 && halo_max_px <= 100 && halo_max_contrast >= 0 && halo_max_contrast < 1,
          "halo_max_px must be in [1, 100] and halo_max_contrast in [0, 1)");
  require(max_dirt >= 0 && max_bulk_fragments >= 0, "max_dirt and max_bulk_fragments must be >= 0");
  require(blur_sigma_min > 0 && blur_sigma_max >= blur_sigma_min, "need 0 < blur_sigma_min <= blur_sigma_max");
  require(noise_sigma_min > 0 && noise_sigma_max >= noise_sigma_min, "need 0 < noise_sigma_min <= noise_sigma_max");
  require(jpeg_quality_min >= 1 && jpeg_quality_max >= jpeg_quality_min && jpeg_quality_max <= 100,
          "need 1 <= jpeg_quality_min <= jpeg_quality_max <= 100");
  require(white_balance_jitter >= 0 && white_balance_jitter < 1, "white_balance_jitter must be in [0, 1)");
  require(vignetting_max >= 0 && vignetting_max < 1 && illumination_gradient_max >= 0 && illumination_gradient_max < 1 &&
              unevenness_max >= 0 && unevenness_max < 1,
          "vignetting_max, illumination_gradient_max and unevenness_max must be in [0, 1)");
  require(exposure_min > 0 && exposure_max >= exposure_min && exposure_max <= 255, "need 0 < exposure_min <= exposure_max <= 255");
  require(agnostic_n_min >= 1 && agnostic_n_max >= agnostic_n_min, "need 1 <= agnostic_n_min <= agnostic_n_max");
  require(agnostic_k_max >= 0, "agnostic_k_max must be >= 0");
  require(agnostic_layer_nm_min > 0 && agnostic_layer_nm_max >= agnostic_layer_nm_min, "bad agnostic layer range");
  require(agnostic_oxide_min_nm > 0 && agnostic_oxide_max_nm >= agnostic_oxide_min_nm, "bad agnostic oxide range");
  for (double p : {edge_blur_probability, tinted_crystal_share, marker_probability, marker_label_probability,
                   scratch_probability, saturation_probability})
    require(p >= 0 && p <= 1, "junk probabilities and shares must be in [0, 1]");
  require(edge_blur_min_px > 0 && edge_blur_max_px >= edge_blur_min_px && edge_blur_max_px <= 200,
          "need 0 < edge_blur_min_px <= edge_blur_max_px <= 200");
  require(marker_pitch_min_px >= 20 && marker_pitch_max_px >= marker_pitch_min_px,
          "need 20 <= marker_pitch_min_px <= marker_pitch_max_px");
  require(max_scratches >= 1 && max_scratches <= 100 && max_bright_dirt >= 0 && max_dirt_blobs >= 0,
          "need 1 <= max_scratches <= 100, max_bright_dirt >= 0 and max_dirt_blobs >= 0");
  require(residue_texture >= 0 && residue_texture <= 2, "residue_texture must be in [0, 2]");
  require(saturation_overshoot_min >= 1 && saturation_overshoot_max >= saturation_overshoot_min &&
              saturation_overshoot_max <= 4,
          "need 1 <= saturation_overshoot_min <= saturation_overshoot_max <= 4");
  require(flake_contrasts.size() <= kMaxFlakeContrasts, "at most " + std::to_string(kMaxFlakeContrasts) + " flake_contrasts");
  for (const Bgr& c : flake_contrasts)
    require(c[0] > -1 && c[1] > -1 && c[2] > -1 && c[0] < 4 && c[1] < 4 && c[2] < 4,
            "flake_contrasts must lie in (-1, 4): a flake cannot be darker than black");
  require(flake_contrast_jitter >= 0 && flake_contrast_jitter < 1, "flake_contrast_jitter must be in [0, 1)");
  require(oxide_nm > 0 && oxide_jitter_nm >= 0 && oxide_jitter_nm < oxide_nm, "need oxide_nm > oxide_jitter_nm >= 0");
}

}  // namespace maskterial::synth
