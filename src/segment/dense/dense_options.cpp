#include "maskterial/segment/dense/dense_options.hpp"

#include "maskterial/util/error.hpp"
#include "maskterial/util/json_fields.hpp"

namespace maskterial::segment {

nlohmann::json DenseOptions::to_json() const {
  return {{"inference_scale", inference_scale},       {"contrast_gain", contrast_gain},
          {"input_clip", input_clip},                 {"input", input},
          {"encoder_widths", encoder_widths},         {"encoder_blocks", encoder_blocks},
          {"decoder_widths", decoder_widths},
          {"flake_threshold", flake_threshold},       {"boundary_threshold", boundary_threshold},
          {"seed_distance", seed_distance},           {"min_instance_cells", min_instance_cells},
          {"edge_band_px", edge_band_px},
          {"calibration_slope", calibration_slope},   {"calibration_offset", calibration_offset}};
}

namespace {

void read_widths(const nlohmann::json& json, const char* key, std::vector<int>& out, const std::string& source) {
  if (!json.contains(key)) return;
  const nlohmann::json& value = json.at(key);
  if (!value.is_array()) throw file_error(source, std::string("dense options: '") + key + "' must be a list of integers");
  out.clear();
  for (const auto& v : value) {
    if (!v.is_number_integer()) throw file_error(source, std::string("dense options: '") + key + "' must hold integers");
    out.push_back(v.get<int>());
  }
}

}  // namespace

DenseOptions DenseOptions::from_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) throw file_error(source, "dense options must be an object");
  DenseOptions o;
  const nlohmann::json defaults = DenseOptions().to_json();  // every key there is
  for (const auto& item : json.items())
    if (!defaults.contains(item.key())) throw file_error(source, "dense options: unknown key '" + item.key() + "'");
  read_json_field(json, "inference_scale", o.inference_scale, source, "options");
  read_json_field(json, "contrast_gain", o.contrast_gain, source, "options");
  read_json_field(json, "input_clip", o.input_clip, source, "options");
  read_json_field(json, "input", o.input, source, "options");
  read_widths(json, "encoder_widths", o.encoder_widths, source);
  read_widths(json, "encoder_blocks", o.encoder_blocks, source);
  read_widths(json, "decoder_widths", o.decoder_widths, source);
  read_json_field(json, "flake_threshold", o.flake_threshold, source, "options");
  read_json_field(json, "boundary_threshold", o.boundary_threshold, source, "options");
  read_json_field(json, "seed_distance", o.seed_distance, source, "options");
  read_json_field(json, "min_instance_cells", o.min_instance_cells, source, "options");
  read_json_field(json, "edge_band_px", o.edge_band_px, source, "options");
  read_json_field(json, "calibration_slope", o.calibration_slope, source, "options");
  read_json_field(json, "calibration_offset", o.calibration_offset, source, "options");
  o.validate(source);
  return o;
}

void DenseOptions::validate(const std::string& source) const {
  auto check = [&](bool ok, const char* problem) {
    if (!ok) throw file_error(source, std::string("dense options: ") + problem);
  };
  check(inference_scale >= 0.125 && inference_scale <= 2, "'inference_scale' must lie in [0.125, 2]");
  check(input == "contrast" || input == "colour" || input == "both", "'input' must be contrast, colour or both");
  check(contrast_gain > 0 && contrast_gain <= 1000, "'contrast_gain' must lie in (0, 1000]");
  check(input_clip > 0 && input_clip <= 1000, "'input_clip' must lie in (0, 1000]");
  check(encoder_widths.size() == 4, "'encoder_widths' must list 4 widths (1/2, 1/4, 1/8, 1/16)");
  check(encoder_blocks.size() == 4, "'encoder_blocks' must list 4 counts");
  for (int b : encoder_blocks) check(b >= 0 && b <= 8, "'encoder_blocks' must lie in [0, 8]");
  check(decoder_widths.size() == 2, "'decoder_widths' must list 2 widths (1/4, 1/8)");
  for (int w : encoder_widths) check(w >= 1 && w <= 1024, "widths must lie in [1, 1024]");
  for (int w : decoder_widths) check(w >= 1 && w <= 1024, "widths must lie in [1, 1024]");
  for (double t : {flake_threshold, boundary_threshold, seed_distance})
    check(t > 0 && t < 1, "thresholds must lie in (0, 1)");
  check(min_instance_cells >= 1, "'min_instance_cells' must be at least 1");
  check(edge_band_px >= 0 && edge_band_px <= 64, "'edge_band_px' must lie in [0, 64]");
  check(calibration_slope > 0 && calibration_slope < 100, "'calibration_slope' must lie in (0, 100)");
  check(std::abs(calibration_offset) < 100, "'calibration_offset' must lie in (-100, 100)");
}

}  // namespace maskterial::segment
