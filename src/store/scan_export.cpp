#include "maskterial/store/scan_export.hpp"

#include <cmath>
#include <map>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/pipeline/outputs.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial::store {
namespace {

nlohmann::json optional_number(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

std::string csv_number(const std::optional<double>& value) {
  if (!value) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", *value);
  return text;
}

std::vector<Candidate> all_candidates(ScanStore& store, const ScanInfo& scan, bool accepted_only, bool with_shapes) {
  CandidateQuery query;
  query.limit = -1;  // SQLite: no limit
  query.with_shapes = with_shapes;
  if (accepted_only) query.verdict = Verdict::Accept;
  return store.candidates(scan.id, query).candidates;
}

std::string to_csv(const std::vector<Candidate>& candidates, double um_per_px) {
  std::string out = "id,image,class,detected_class,score,uncertainty,area_px,area_um2,bbox_x,bbox_y,bbox_w,bbox_h,"
                    "center_x_px,center_y_px,center_x_um,center_y_um,stage_x_um,stage_y_um,verdict,image_path\n";
  for (const Candidate& c : candidates) {
    const std::vector<std::string> fields = {
        std::to_string(c.id), csv_escape(c.image_name), csv_escape(c.class_name), csv_escape(c.detected_class),
        csv_number(c.score), csv_number(c.uncertainty), std::to_string(c.area_px), csv_number(c.area_um2),
        csv_number(c.bbox[0]), csv_number(c.bbox[1]), csv_number(c.bbox[2]), csv_number(c.bbox[3]),
        std::to_string(c.center[0]), std::to_string(c.center[1]), csv_number(c.center[0] * um_per_px),
        csv_number(c.center[1] * um_per_px), csv_number(c.stage_x_um), csv_number(c.stage_y_um),
        to_string(c.verdict), csv_escape(c.image_path)};
    for (size_t k = 0; k < fields.size(); ++k) out += (k ? "," : "") + fields[k];
    out += "\n";
  }
  return out;
}

nlohmann::json to_coco(const std::vector<Candidate>& candidates) {
  coco::Dataset dataset;
  std::map<int64_t, bool> images_seen;
  std::map<int64_t, std::string> categories;
  std::vector<double> scores;
  for (const Candidate& c : candidates) {
    if (!images_seen[c.image_id]) {
      images_seen[c.image_id] = true;
      dataset.images.push_back({c.image_id, c.image_name, c.image_width, c.image_height});
    }
    Flake as_flake;
    as_flake.class_id = c.class_id;
    as_flake.class_name = c.class_name;
    coco::Annotation a;
    a.id = c.id;
    a.image_id = c.image_id;
    a.category_id = category_id_of(as_flake);
    categories[a.category_id] = c.class_name;
    a.segmentation = coco::segmentation_from_json(c.rle, c.image_height, c.image_width);
    a.area = static_cast<double>(c.area_px);
    a.bbox = c.bbox;
    dataset.annotations.push_back(std::move(a));
    scores.push_back(c.score);
  }
  for (const auto& [id, name] : categories) dataset.categories.push_back({id, name, "flake"});
  nlohmann::json out = coco::dataset_to_json(dataset);
  for (size_t i = 0; i < scores.size(); ++i) out["annotations"][i]["score"] = scores[i];
  return out;
}

}  // namespace

nlohmann::json candidate_to_json(const Candidate& c, double um_per_px, bool with_shape) {
  nlohmann::json j = {{"id", c.id},
                      {"image", c.image_name},
                      {"image_id", c.image_id},
                      {"image_path", c.image_path},
                      {"image_width", c.image_width},
                      {"image_height", c.image_height},
                      {"class", c.class_name},
                      {"detected_class", c.detected_class},
                      {"class_id", c.class_id},
                      {"score", c.score},
                      {"detector_score", c.detector_score},
                      {"uncertainty", c.uncertainty},
                      {"area_px", c.area_px},
                      {"area_um2", c.area_um2},
                      {"bbox", c.bbox},
                      {"center", c.center},
                      {"center_um", {c.center[0] * um_per_px, c.center[1] * um_per_px}},
                      {"stage_x_um", optional_number(c.stage_x_um)},
                      {"stage_y_um", optional_number(c.stage_y_um)},
                      {"mean_contrast_bgr", c.mean_contrast_bgr},
                      {"verdict", c.verdict == Verdict::None ? nlohmann::json() : nlohmann::json(to_string(c.verdict))},
                      {"verdict_time", c.verdict_time.empty() ? nlohmann::json() : nlohmann::json(c.verdict_time)}};
  if (with_shape) {
    j["segmentation"] = c.rle;
    j["evidence"] = c.evidence;
  }
  return j;
}

nlohmann::json scan_to_json(const ScanInfo& scan, const ScanCounts& counts) {
  return {{"name", scan.name},
          {"created", scan.created},
          {"folders", scan.folders},
          {"um_per_px", scan.um_per_px},
          {"settings", scan.settings},
          {"images_total", counts.images_total},
          {"images_done", counts.images_done},
          {"images_failed", counts.images_failed},
          {"candidates", counts.candidates},
          {"reviewed", counts.reviewed},
          {"accepted", counts.accepted},
          {"rejected", counts.rejected},
          {"last_rerank", scan.last_rerank}};
}

ExportFormat parse_export_format(const std::string& name) {
  if (name == "csv") return ExportFormat::Csv;
  if (name == "json") return ExportFormat::Json;
  if (name == "coco") return ExportFormat::Coco;
  throw Error("export format '" + name + "': expected csv, json or coco");
}

const char* content_type(ExportFormat format) {
  return format == ExportFormat::Csv ? "text/csv; charset=utf-8" : "application/json";
}

std::string export_scan(ScanStore& store, const ScanInfo& scan, ExportFormat format, bool accepted_only) {
  const std::vector<Candidate> candidates = all_candidates(store, scan, accepted_only, format != ExportFormat::Csv);
  if (format == ExportFormat::Csv) return to_csv(candidates, scan.um_per_px);
  if (format == ExportFormat::Coco) return to_coco(candidates).dump();
  nlohmann::json list = nlohmann::json::array();
  for (const Candidate& c : candidates) list.push_back(candidate_to_json(c, scan.um_per_px, true));
  return nlohmann::json{{"scan", scan_to_json(scan, store.counts(scan.id))}, {"candidates", list}}.dump(1);
}

}  // namespace maskterial::store
