#include "scan_routes.hpp"

#include <cmath>
#include <fstream>

#include <opencv2/imgcodecs.hpp>

#include "classification_backend.hpp"
#include "detection.hpp"
#include "http_helpers.hpp"
#include "segmentation_backend.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/pipeline/outputs.hpp"
#include "maskterial/store/rerank.hpp"
#include "maskterial/serve/http_error.hpp"
#include "maskterial/store/scan_export.hpp"
#include "maskterial/store/scan_runner.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr int kImageJpegQuality = 90;

store::ScanStore& scans_of(const ScanContext& c) {
  if (!c.scans) throw HttpError(404, "this server has no scan database; start it with --scans FILE --scan-root DIR");
  return *c.scans;
}

store::ScanInfo find_scan(const ScanContext& c, const std::string& name) {
  check_model_name(name);
  const std::optional<store::ScanInfo> scan = scans_of(c).find_scan(name);
  if (!scan) throw HttpError(404, "no scan named '" + name + "'");
  return *scan;
}

int64_t id_in_path(const std::string& text, const char* what) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value <= 0) throw HttpError(400, std::string(what) + " '" + text + "' is not a valid id");
  return value;
}

nlohmann::json scan_json(const ScanContext& c, const store::ScanInfo& scan) {
  nlohmann::json j = store::scan_to_json(scan, scans_of(c).counts(scan.id));
  j.update(c.jobs->state(scan.name));
  return j;
}

// DIR/folder, which must be a folder inside the scan root (no way out through "..", absolute paths or links).
fs::path scan_folder(const ScanContext& c, const std::string& folder) {
  if (c.scan_root.empty()) throw HttpError(404, "this server has no scan root; start it with --scan-root DIR");
  if (folder.empty()) throw HttpError(400, "\"folder\" (a folder inside the scan root) is missing");
  if (fs::path(folder).is_absolute()) throw HttpError(400, "\"folder\" must be relative to the scan root");
  std::error_code ec;
  const fs::path root = fs::canonical(c.scan_root, ec);
  if (ec) throw HttpError(500, "the scan root cannot be read");
  const fs::path path = fs::weakly_canonical(root / folder, ec);
  const auto [end, _] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  if (ec || end != root.end()) throw HttpError(400, "folder '" + folder + "' is outside the scan root");
  if (!fs::is_directory(path)) throw HttpError(404, "no folder '" + folder + "' in the scan root");
  return path;
}

// The detector of a scan: detect's defaults with the models the request names (default: the built-in
// classifier and the default segmentation model).
std::shared_ptr<const Detector> scan_detector(const ScanContext& c, const nlohmann::json& body, nlohmann::json& settings) {
  const std::string classification = string_member(body, "classification_model", kBuiltinClassificationModel);
  const std::string segmentation = string_member(body, "segmentation_model", c.models.default_segmentation_model());
  DetectionSettings detection;
  const auto model = c.models.classification_model(classification);
  segment::SegmenterPtr segmenter;
  if (segmentation != kNoSegmentationModel)
    segmenter = c.models.segmentation_model(segmentation)->at_threshold(detection.score_threshold);
  const auto detector =
      std::make_shared<Detector>(model->classifier, detection.detector, cv::Mat(), segmenter, model->flake_score);
  settings = store::scan_settings(
      {{"models", {{"classification", c.models.provenance(ModelKind::Classification, classification)},
                   {"segmentation", segmenter ? c.models.provenance(ModelKind::Segmentation, segmentation)
                                              : nlohmann::json()}}},
       {"settings", detection.to_json(segmenter != nullptr)}},
      *detector);
  return detector;
}

void create_scan(const ScanContext& c, const httplib::Request& req, httplib::Response& res) {
  store::ScanStore& scans = scans_of(c);
  const nlohmann::json body = json_body(req, false);
  const std::string name = string_member(body, "name", "");
  if (name.empty()) throw HttpError(400, "\"name\" (the scan's name) is missing");
  check_model_name(name);
  const fs::path folder = scan_folder(c, string_member(body, "folder", ""));
  nlohmann::json settings;
  const std::shared_ptr<const Detector> detector = scan_detector(c, body, settings);
  const store::ScanInfo scan = c.jobs->start_scan(name, [&] {
    const store::ScanInfo created = scans.open_scan(name, {folder.string()}, settings, kDefaultMicronsPerPixel, nlohmann::json());
    store::register_images(scans, created.id, list_images({folder.string()}));
    return created;
  }, detector);
  send_json(res, 202, scan_json(c, scan));
}

// A whole number query parameter in [min, max] (fallback when absent).
int64_t count_parameter(const httplib::Request& req, const std::string& name, int64_t fallback, int64_t min, int64_t max) {
  const double value = number_field(req, name, static_cast<double>(fallback), static_cast<double>(min), static_cast<double>(max));
  if (value != std::floor(value)) throw HttpError(400, "query parameter '" + name + "' must be a whole number");
  return static_cast<int64_t>(value);
}

std::optional<double> optional_parameter(const httplib::Request& req, const std::string& name, double max) {
  if (!req.has_param(name.c_str()) || req.get_param_value(name.c_str()).empty()) return std::nullopt;
  return number_field(req, name, 0, 0, max);
}

store::CandidateQuery candidate_query(const httplib::Request& req) {
  store::CandidateQuery q;
  q.offset = count_parameter(req, "offset", 0, 0, int64_t{1} << 40);
  q.limit = count_parameter(req, "limit", q.limit, 1, kMaxCandidatePage);
  const std::string sort = text_field(req, "sort", "score");
  if (sort == "area") q.sort = store::SortKey::Area;
  else if (sort == "uncertainty") q.sort = store::SortKey::Uncertainty;
  else if (sort != "score") throw HttpError(400, "query parameter 'sort': '" + sort + "' is not score, area or uncertainty");
  const std::string order = text_field(req, "order", "desc");
  if (order != "asc" && order != "desc") throw HttpError(400, "query parameter 'order': '" + order + "' is not asc or desc");
  q.descending = order == "desc";
  if (const std::string cls = text_field(req, "class", ""); !cls.empty()) q.class_name = cls;
  q.min_score = optional_parameter(req, "min_score", 1);
  q.min_area_um2 = optional_parameter(req, "min_area_um2", 1e12);
  q.max_uncertainty = optional_parameter(req, "max_uncertainty", 1e12);
  if (const std::string verdict = text_field(req, "verdict", ""); !verdict.empty()) {
    try {
      q.verdict = store::parse_verdict(verdict);
    } catch (const Error& e) {
      throw HttpError(400, std::string("query parameter 'verdict': ") + e.what());
    }
  }
  return q;
}

void list_candidates(const ScanContext& c, const httplib::Request& req, httplib::Response& res) {
  const store::ScanInfo scan = find_scan(c, req.matches[1]);
  const store::CandidateQuery query = candidate_query(req);
  const store::CandidatePage page = scans_of(c).candidates(scan.id, query);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& candidate : page.candidates) list.push_back(store::candidate_to_json(candidate, scan.um_per_px));
  send_json(res, 200, {{"total", page.total}, {"offset", query.offset}, {"limit", query.limit}, {"candidates", list}});
}

store::Candidate find_candidate(const ScanContext& c, const store::ScanInfo& scan, const std::string& id_text) {
  const int64_t id = id_in_path(id_text, "candidate");
  const std::optional<store::Candidate> candidate = scans_of(c).candidate(scan.id, id);
  if (!candidate) throw HttpError(404, "scan '" + scan.name + "' has no candidate " + id_text);
  return *candidate;
}

void set_verdict(const ScanContext& c, const httplib::Request& req, httplib::Response& res) {
  const store::ScanInfo scan = find_scan(c, req.matches[1]);
  const int64_t id = id_in_path(req.matches[2], "candidate");
  const nlohmann::json body = json_body(req, false);
  if (!body.contains("verdict")) throw HttpError(400, "\"verdict\" (accept, reject or null) is missing");
  store::Verdict verdict = store::Verdict::None;
  if (!body["verdict"].is_null()) {
    if (!body["verdict"].is_string() || (body["verdict"] != "accept" && body["verdict"] != "reject"))
      throw HttpError(400, "\"verdict\" must be \"accept\", \"reject\" or null");
    verdict = store::parse_verdict(body["verdict"]);
  }
  std::optional<std::string> relabel;
  if (const std::string cls = string_member(body, "class", ""); !cls.empty()) {
    if (cls.size() > 64) throw HttpError(400, "\"class\" is longer than 64 characters");
    relabel = cls;
  }
  if (!scans_of(c).set_verdict(scan.id, id, verdict, relabel))
    throw HttpError(404, "scan '" + scan.name + "' has no candidate " + req.matches[2].str());
  send_json(res, 200, store::candidate_to_json(find_candidate(c, scan, req.matches[2]), scan.um_per_px));
}

void send_image(const ScanContext& c, const httplib::Request& req, httplib::Response& res) {
  const store::ScanInfo scan = find_scan(c, req.matches[1]);
  const std::optional<store::ImageRecord> image = scans_of(c).image(scan.id, id_in_path(req.matches[2], "image"));
  if (!image) throw HttpError(404, "scan '" + scan.name + "' has no image " + req.matches[2].str());
  const std::string extension = fs::path(image->path).extension().string();
  if (extension == ".jpg" || extension == ".jpeg" || extension == ".JPG" || extension == ".JPEG") {
    std::string bytes;
    try {
      bytes = read_file(image->path);
    } catch (const Error&) {
      throw HttpError(404, "image '" + image->name + "' is no longer readable where it was scanned");
    }
    return res.set_content(bytes, "image/jpeg");
  }
  cv::Mat bgr8;
  try {
    bgr8 = load_image(image->path);
  } catch (const Error&) {
    throw HttpError(404, "image '" + image->name + "' is no longer readable where it was scanned");
  }
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", bgr8, jpeg, {cv::IMWRITE_JPEG_QUALITY, kImageJpegQuality});
  res.set_content(std::string(jpeg.begin(), jpeg.end()), "image/jpeg");
}

void send_export(const ScanContext& c, const httplib::Request& req, httplib::Response& res) {
  const store::ScanInfo scan = find_scan(c, req.matches[1]);
  store::ExportFormat format;
  try {
    format = store::parse_export_format(text_field(req, "format", "json"));
  } catch (const Error& e) {
    throw HttpError(400, std::string("query parameter 'format': ") + e.what());
  }
  const bool accepted = flag_field(req, "accepted");
  const std::string extension = format == store::ExportFormat::Csv ? ".csv" : ".json";
  res.set_header("Content-Disposition", "attachment; filename=\"" + scan.name + (accepted ? "-accepted" : "") +
                                            (format == store::ExportFormat::Coco ? "-coco" : "") + extension + "\"");
  res.set_content(store::export_scan(scans_of(c), scan, format, accepted), store::content_type(format));
}

}  // namespace

void add_scan_routes(httplib::Server& http, const ScanContext& context) {
  const ScanContext* c = &context;
  http.Post("/api/scans", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { create_scan(*c, req, res); });
  });
  http.Get("/api/scans", [c](const httplib::Request&, httplib::Response& res) {
    handle(res, [&] {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& scan : scans_of(*c).list_scans()) list.push_back(scan_json(*c, scan));
      send_json(res, 200, {{"scans", list}});
    });
  });
  http.Get(R"(/api/scans/([^/]+))", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { send_json(res, 200, scan_json(*c, find_scan(*c, req.matches[1]))); });
  });
  http.Delete(R"(/api/scans/([^/]+))", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] {
      const store::ScanInfo scan = find_scan(*c, req.matches[1]);
      c->jobs->stop(scan.name);
      scans_of(*c).delete_scan(scan.name);
      send_json(res, 200, {{"deleted", scan.name}});
    });
  });
  http.Get(R"(/api/scans/([^/]+)/candidates)", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { list_candidates(*c, req, res); });
  });
  http.Get(R"(/api/scans/([^/]+)/candidates/([^/]+))", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] {
      const store::ScanInfo scan = find_scan(*c, req.matches[1]);
      send_json(res, 200, store::candidate_to_json(find_candidate(*c, scan, req.matches[2]), scan.um_per_px));
    });
  });
  http.Get(R"(/api/scans/([^/]+)/candidates/([^/]+)/thumbnail)", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] {
      const store::ScanInfo scan = find_scan(*c, req.matches[1]);
      const std::optional<std::string> jpeg = scans_of(*c).thumbnail(scan.id, id_in_path(req.matches[2], "candidate"));
      if (!jpeg) throw HttpError(404, "scan '" + scan.name + "' has no candidate " + req.matches[2].str());
      res.set_header("Cache-Control", "max-age=86400");  // a candidate's thumbnail never changes
      res.set_content(*jpeg, "image/jpeg");
    });
  });
  http.Put(R"(/api/scans/([^/]+)/candidates/([^/]+))", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { set_verdict(*c, req, res); });
  });
  http.Get(R"(/api/scans/([^/]+)/images/([^/]+))", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { send_image(*c, req, res); });
  });
  http.Post(R"(/api/scans/([^/]+)/rerank)", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] {
      const store::ScanInfo scan = find_scan(*c, req.matches[1]);
      const store::ScanCounts counts = scans_of(*c).counts(scan.id);
      const int64_t needed = store::kMinVerdictsPerKind;
      if (counts.accepted < needed || counts.rejected < needed)
        throw HttpError(400, "re-ranking scan '" + scan.name + "' needs at least " + std::to_string(needed) +
                                 " accepted and " + std::to_string(needed) + " rejected candidates (has " +
                                 std::to_string(counts.accepted) + " and " + std::to_string(counts.rejected) + ")");
      c->jobs->start_rerank(scan);
      send_json(res, 202, scan_json(*c, scan));
    });
  });
  http.Get(R"(/api/scans/([^/]+)/export)", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { send_export(*c, req, res); });
  });
}

}  // namespace maskterial::serve
