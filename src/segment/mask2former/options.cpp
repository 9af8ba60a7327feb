#include "maskterial/segment/mask2former/options.hpp"

#include <set>

#include "maskterial/util/error.hpp"

namespace maskterial::segment {
namespace {

using Json = nlohmann::json;

// Reads the keys of `json` into fields; a key that is not a field or has the wrong type is an error, so a
// typo in a model file does not silently fall back to a default.
class Reader {
 public:
  Reader(const Json& json, std::string where, const std::string& source)
      : json_(json), where_(std::move(where)), source_(source) {
    if (!json_.is_object()) fail("must be an object");
  }

  template <typename T>
  void read(const char* key, T& field) {
    known_.insert(key);
    if (!json_.contains(key)) return;
    const Json& value = json_.at(key);
    const bool ok = std::is_same_v<T, bool>          ? value.is_boolean()
                    : std::is_same_v<T, std::string> ? value.is_string()
                    : std::is_integral_v<T>          ? value.is_number_integer()
                                                     : value.is_number();
    if (!ok) fail(std::string("'") + key + "' has the wrong type");
    field = value.get<T>();
  }

  void read(const char* key, std::array<float, 3>& field) {
    known_.insert(key);
    if (!json_.contains(key)) return;
    const Json& value = json_.at(key);
    if (!value.is_array() || value.size() != 3) fail(std::string("'") + key + "' must be a list of 3 numbers");
    for (size_t i = 0; i < 3; ++i) {
      if (!value[i].is_number()) fail(std::string("'") + key + "' must hold numbers");
      field[i] = value[i].get<float>();
    }
  }

  const Json* object(const char* key) {
    known_.insert(key);
    return json_.contains(key) ? &json_.at(key) : nullptr;
  }

  void reject_unknown() const {
    for (const auto& item : json_.items())
      if (!known_.count(item.key())) fail("unknown key '" + item.key() + "'");
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw file_error(source_, "segmenter options" + (where_.empty() ? "" : " '" + where_ + "'") + ": " + problem);
  }

 private:
  const Json& json_;
  std::string where_;
  const std::string& source_;
  std::set<std::string> known_;
};

void check(bool ok, const std::string& source, const std::string& problem) {
  if (!ok) throw file_error(source, "segmenter options: " + problem);
}

}  // namespace

void SegmenterOptions::validate(const std::string& source) const {
  const SegmenterOptions& o = *this;
  const auto& b = o.backbone;
  const auto& p = o.pixel_decoder;
  const auto& d = o.decoder;
  check(b.depth == 18 || b.depth == 34 || b.depth == 50, source, "backbone depth must be 18, 34 or 50");
  check(b.stem_width >= 8 && b.stem_width <= 512, source, "backbone stem_width must be in 8..512");
  check(p.type == "msdeform" || p.type == "fpn", source, "pixel_decoder type must be msdeform or fpn");
  // GroupNorm with 32 groups, as Mask2Former's pixel decoders.
  check(p.hidden_dim >= 32 && p.hidden_dim % 32 == 0, source, "pixel_decoder hidden_dim must be a multiple of 32");
  check(p.mask_dim >= 1, source, "pixel_decoder mask_dim must be positive");
  check(p.heads >= 1 && p.hidden_dim % p.heads == 0, source, "pixel_decoder hidden_dim must divide into heads");
  check(p.encoder_layers >= 0 && p.points >= 1 && p.ffn_dim >= 1, source,
        "pixel_decoder encoder_layers, points and ffn_dim must be positive");
  check(d.hidden_dim >= 4 && d.hidden_dim % 4 == 0, source,
        "decoder hidden_dim must be a multiple of 4 (sine position encoding)");
  check(d.heads >= 1 && d.hidden_dim % d.heads == 0, source, "decoder hidden_dim must divide into heads");
  check(d.layers >= 1 && d.queries >= 1 && d.ffn_dim >= 1, source,
        "decoder layers, queries and ffn_dim must be positive");
  check(o.num_classes >= 1, source, "num_classes must be at least 1");
  for (float s : o.pixel_std) check(s > 0, source, "pixel_std must be positive");
  for (float m : o.pixel_mean) check(o.normalisation == "fixed" || m > 0, source, "pixel_mean must be positive");
  check(o.normalisation == "fixed" || o.normalisation == "substrate", source,
        "normalisation must be \"fixed\" or \"substrate\"");
  check(o.inference_scale > 0 && o.inference_scale <= 4, source, "inference_scale must be in (0, 4]");
  check(o.inference_mask_nms >= 0 && o.inference_mask_nms <= 1, source, "inference_mask_nms must be in [0, 1]");
  check(o.inference_tile >= 0 && o.inference_tile % 32 == 0, source, "inference_tile must be 0 or a multiple of 32");
  check(o.inference_tile_overlap >= 0 && (o.inference_tile == 0 || o.inference_tile_overlap < o.inference_tile), source,
        "inference_tile_overlap must be in [0, inference_tile)");
}

SegmenterOptions SegmenterOptions::preset_named(const std::string& name) {
  SegmenterOptions o;
  o.preset = name;
  if (name == "paper") return o;  // the field defaults are MaskTerial's configuration
  if (name == "lite") {
    // Measured on the 2-core development machine: ~0.2 s for the network on a 1920x1200 image at scale 0.5
    // on one core; each further encoder layer adds ~0.08 s, the fpn decoder instead of msdeform saves ~0.02 s.
    o.backbone.depth = 18;
    o.backbone.stem_width = 32;
    o.pixel_decoder.type = "msdeform";
    o.pixel_decoder.hidden_dim = 64;
    o.pixel_decoder.mask_dim = 64;
    o.pixel_decoder.encoder_layers = 1;
    o.pixel_decoder.heads = 4;
    o.pixel_decoder.ffn_dim = 256;
    o.decoder.hidden_dim = 64;
    o.decoder.layers = 6;
    o.decoder.queries = 50;
    o.decoder.heads = 4;
    o.decoder.ffn_dim = 256;
    // 0.75: real flakes of ~200 px stay a few cells of the 1/4 mask grid (at 0.5 they vanish), at ~0.8 s.
    o.inference_scale = 0.75;
    o.inference_mask_nms = 0.5;
    return o;
  }
  throw Error("unknown segmenter preset '" + name + "' (known: paper, lite)");
}

SegmenterOptions SegmenterOptions::from_json(const nlohmann::json& json, const std::string& source_name) {
  Reader top(json, "", source_name);
  std::string preset = "paper";
  top.read("preset", preset);
  SegmenterOptions o;
  try {
    o = preset_named(preset);
  } catch (const Error& e) {
    throw file_error(source_name, e.what());
  }
  if (const Json* j = top.object("backbone")) {
    Reader r(*j, "backbone", source_name);
    r.read("depth", o.backbone.depth);
    r.read("stem_width", o.backbone.stem_width);
    r.read("frozen_bn", o.backbone.frozen_bn);
    r.reject_unknown();
  }
  if (const Json* j = top.object("pixel_decoder")) {
    Reader r(*j, "pixel_decoder", source_name);
    auto& p = o.pixel_decoder;
    r.read("type", p.type);
    r.read("hidden_dim", p.hidden_dim);
    r.read("mask_dim", p.mask_dim);
    r.read("encoder_layers", p.encoder_layers);
    r.read("heads", p.heads);
    r.read("points", p.points);
    r.read("ffn_dim", p.ffn_dim);
    r.reject_unknown();
  }
  if (const Json* j = top.object("decoder")) {
    Reader r(*j, "decoder", source_name);
    auto& d = o.decoder;
    r.read("hidden_dim", d.hidden_dim);
    r.read("layers", d.layers);
    r.read("queries", d.queries);
    r.read("heads", d.heads);
    r.read("ffn_dim", d.ffn_dim);
    r.reject_unknown();
  }
  top.read("num_classes", o.num_classes);
  top.read("pixel_mean", o.pixel_mean);
  top.read("pixel_std", o.pixel_std);
  top.read("normalisation", o.normalisation);
  top.read("inference_scale", o.inference_scale);
  top.read("inference_tile", o.inference_tile);
  top.read("inference_tile_overlap", o.inference_tile_overlap);
  top.read("inference_mask_nms", o.inference_mask_nms);
  top.reject_unknown();
  o.validate(source_name);
  return o;
}

nlohmann::json SegmenterOptions::to_json() const {
  const auto& b = backbone;
  const auto& p = pixel_decoder;
  const auto& d = decoder;
  return {{"preset", preset},
          {"backbone", {{"depth", b.depth}, {"stem_width", b.stem_width}, {"frozen_bn", b.frozen_bn}}},
          {"pixel_decoder",
           {{"type", p.type},
            {"hidden_dim", p.hidden_dim},
            {"mask_dim", p.mask_dim},
            {"encoder_layers", p.encoder_layers},
            {"heads", p.heads},
            {"points", p.points},
            {"ffn_dim", p.ffn_dim}}},
          {"decoder",
           {{"hidden_dim", d.hidden_dim},
            {"layers", d.layers},
            {"queries", d.queries},
            {"heads", d.heads},
            {"ffn_dim", d.ffn_dim}}},
          {"num_classes", num_classes},
          {"pixel_mean", pixel_mean},
          {"pixel_std", pixel_std},
          {"normalisation", normalisation},
          {"inference_scale", inference_scale},
          {"inference_tile", inference_tile},
          {"inference_tile_overlap", inference_tile_overlap},
          {"inference_mask_nms", inference_mask_nms}};
}

}  // namespace maskterial::segment
