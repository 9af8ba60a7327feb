#include "annotation_routes.hpp"

#include "classification_backend.hpp"
#include "detection.hpp"
#include "http_helpers.hpp"
#include "segmentation_backend.hpp"
#include "maskterial/coco/eval.hpp"
#include "maskterial/coco/flake_metrics.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/image/region.hpp"
#include "maskterial/optics/contrast_model.hpp"
#include "maskterial/pipeline/outputs.hpp"
#include "maskterial/segment/dense/dense_segmenter.hpp"
#include "maskterial/serve/http_error.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr size_t kDatasetBytes = size_t{32} << 20;  // PUT /api/datasets/{name}: COCO JSON with RLE masks
constexpr int kMaxGuideLayers = 20;

nlohmann::json bgr_json(const Bgr& c) { return {c[0], c[1], c[2]}; }

int64_t count_member(const nlohmann::json& body, const std::string& key, int64_t max) {
  if (!body.contains(key) || body[key].is_null()) return 0;
  if (!body[key].is_number_integer() || body[key].get<int64_t>() < 0 || body[key].get<int64_t>() > max)
    throw HttpError(400, "\"" + key + "\" must be a whole number in [0, " + std::to_string(max) + "]");
  return body[key];
}

// The flake probability map of a dense segmentation model for the image (HttpError 400 for other types).
cv::Mat flake_probability(const AnnotationContext& c, const std::string& model, const cv::Mat& bgr8) {
  const segment::SegmenterPtr segmenter = c.store.segmentation_model(model)->at_threshold(segment::kDefaultScoreThreshold);
  const auto dense = std::dynamic_pointer_cast<const segment::DenseSegmenter>(segmenter);
  if (!dense)
    throw HttpError(400, "segmentation model '" + model + "' is of type " + c.store.segmentation_model(model)->type() +
                             ", which has no flake probability map to guide region growing (use a dense model)");
  return dense->probabilities(bgr8).flake;
}

template <typename Work>
auto on_pool(const AnnotationContext& c, Work work) {
  auto future = c.pool.try_submit(std::move(work));
  if (!future) throw HttpError(503, "busy: every worker is busy and the queue is full; retry shortly");
  return future->get();
}

// The uploaded image of a multipart form (field 'image'), checked against the server's limits: (name, bytes).
std::pair<std::string, const std::string*> image_part(const AnnotationContext& c, const httplib::Request& req) {
  if (!req.is_multipart_form_data())
    throw HttpError(415, "send multipart/form-data with the image file in the field 'image'");
  const auto part = req.files.find("image");
  if (part == req.files.end() || part->second.content.empty())
    throw HttpError(400, "no image: the form needs a non-empty file field 'image'");
  const std::string name = part->second.filename.empty() ? "image" : fs::path(part->second.filename).filename().string();
  c.check_image(part->second.content, name);
  return {name, &part->second.content};
}

// The substrate colour contrast is measured against, for the page's contrast scatter plot.
void background(const AnnotationContext& c, const httplib::Request& req, httplib::Response& res) {
  const auto [name, bytes] = image_part(c, req);
  send_json(res, 200, on_pool(c, [&, name = name, bytes = bytes]() -> nlohmann::json {
    const cv::Mat bgr8 = decode_image(*bytes, name);
    return {{"background_bgr", bgr_json(substrate_colour(bgr8))}, {"width", bgr8.cols}, {"height", bgr8.rows}};
  }));
}

void region(const AnnotationContext& c, const httplib::Request& req, httplib::Response& res) {
  const auto [name, bytes] = image_part(c, req);
  for (const char* field : {"x", "y"})
    if (!form_field(req, field)) throw HttpError(400, std::string("form field '") + field + "' (pixel) is missing");
  const cv::Point seed(static_cast<int>(number_field(req, "x", 0, 0, 1e6)), static_cast<int>(number_field(req, "y", 0, 0, 1e6)));
  RegionOptions options;
  options.tolerance = number_field(req, "tolerance", options.tolerance, 0.01, 1);
  const std::string model = text_field(req, "segmentation_model", "");
  if (!model.empty() && model != kNoSegmentationModel) c.store.segmentation_model(model);  // 404 / 409 before work
  const nlohmann::json out = on_pool(c, [&, name = name, bytes = bytes]() -> nlohmann::json {
    const cv::Mat bgr8 = decode_image(*bytes, name);
    const cv::Mat guide = model.empty() || model == kNoSegmentationModel ? cv::Mat() : flake_probability(c, model, bgr8);
    const Region r = grow_region(bgr8, seed, options, guide);
    nlohmann::json j = {{"found", r.found},          {"width", bgr8.cols},
                        {"height", bgr8.rows},       {"tolerance", options.tolerance},
                        {"background_bgr", bgr_json(r.background)}, {"seed_contrast_bgr", bgr_json(r.seed_contrast)},
                        {"guided", !guide.empty()}};
    if (!r.found) {
      j["message"] = r.reason;
      return j;
    }
    const coco::Rle rle = coco::encode(r.mask);
    const auto bbox = coco::to_bbox(rle);
    j["segmentation"] = coco::to_json(rle);
    j["area"] = coco::area(rle);
    j["bbox"] = {bbox[0], bbox[1], bbox[2], bbox[3]};
    j["mean_contrast_bgr"] = bgr_json(r.mean_contrast);
    return j;
  });
  send_json(res, 200, out);
}

void optics_contrast(const httplib::Request& req, httplib::Response& res) {
  const optics::Material& material = optics::find_material(text_field(req, "material", "graphene"));
  optics::OpticalSetup setup;
  setup.oxide_nm = number_field(req, "oxide_nm", setup.oxide_nm, 0, 2000);
  const double layers = number_field(req, "layers", 5, 1, kMaxGuideLayers);
  nlohmann::json guides = nlohmann::json::array(), names = nlohmann::json::array();
  for (int n = 1; n <= static_cast<int>(layers); ++n)
    guides.push_back({{"layers", n}, {"contrast_bgr", bgr_json(optics::layer_contrast(setup, material, n))}});
  for (const auto& m : optics::materials()) names.push_back(m.name);
  send_json(res, 200, {{"material", material.name}, {"oxide_nm", setup.oxide_nm}, {"layers", guides},
                       {"materials", names}, {"source", material.source}});
}

void train(const AnnotationContext& c, const std::string& name, const httplib::Request& req, httplib::Response& res) {
  const nlohmann::json body = json_body(req, false);
  TrainingUpload upload;
  upload.model_name = string_member(body, "model", "");
  if (upload.model_name.empty()) throw HttpError(400, "\"model\" (name of the model to train) is missing");
  upload.type = string_member(body, "type", upload.type);
  upload.base = string_member(body, "base", "");
  if (body.contains("overwrite") && !body["overwrite"].is_boolean()) throw HttpError(400, "\"overwrite\" must be true or false");
  upload.overwrite = body.value("overwrite", false);
  upload.iterations = count_member(body, "iterations", 100000);
  upload.batch_size = static_cast<int>(count_member(body, "batch_size", 64));
  upload.crop_size = static_cast<int>(count_member(body, "crop_size", 2048));
  check_training_type(upload.type);
  AnnotationDatasets::Split split = c.datasets.split(name, "train");
  if (split.coco["annotations"].empty())
    throw HttpError(400, "dataset '" + name + "' has no annotated training image yet");
  upload.images = std::move(split.images);
  upload.annotations = split.coco.dump();
  nlohmann::json job = c.jobs.start(std::move(upload));
  job["dataset"] = name;
  send_json(res, 202, job);
}

// Detection with the chosen models on the dataset's test images, scored against their annotations:
// per-class precision / recall / F1 and AP at IoU 0.5 (COCOeval).
void evaluate(const AnnotationContext& c, const std::string& name, const httplib::Request& req, httplib::Response& res) {
  const nlohmann::json body = json_body(req, true);
  const std::string classifier_name = string_member(body, "classification_model", kBuiltinClassificationModel);
  const std::string segmenter_name = string_member(body, "segmentation_model", c.store.default_segmentation_model());
  const auto classifier = c.store.classification_model(classifier_name);
  const segment::SegmenterPtr segmenter =
      segmenter_name == kNoSegmentationModel ? nullptr
                                             : c.store.segmentation_model(segmenter_name)->at_threshold(segment::kDefaultScoreThreshold);
  const AnnotationDatasets::Split split = c.datasets.split(name, "test");
  if (split.images.empty()) throw HttpError(400, "dataset '" + name + "' has no image marked as a test image");
  coco::Dataset truth;
  try {
    truth = coco::dataset_from_json(split.coco, "dataset '" + name + "'");
  } catch (const Error& e) {
    throw HttpError(400, e.what());
  }
  const std::vector<coco::Annotation> detections = on_pool(c, [&] {
    std::vector<coco::Annotation> all;
    for (const auto& [file, bytes] : split.images) {
      const coco::ImageInfo* info = truth.find_image_by_file(file);
      const Detection d = run_detection(*classifier, segmenter, decode_image(bytes, file), file, DetectionSettings{});
      for (auto& a : to_coco_results(d, info->id)) all.push_back(std::move(a));
    }
    return all;
  });
  const coco::FlakeMetrics metrics = coco::compute_flake_metrics(truth, detections);
  coco::EvalParams at_50;
  at_50.iou_thresholds = {0.5};
  const coco::EvalResult ap50 = coco::evaluate(truth, detections, at_50);
  nlohmann::json per_class = nlohmann::json::array();
  for (const auto& m : metrics.per_class) {
    const auto ap = ap50.per_category_ap.find(m.category_id);
    per_class.push_back({{"category_id", m.category_id}, {"name", m.name}, {"tp", m.tp}, {"fp", m.fp}, {"fn", m.fn},
                         {"precision", m.precision}, {"recall", m.recall}, {"f1", m.f1},
                         {"ap50", ap == ap50.per_category_ap.end() ? -1.0 : ap->second}});
  }
  send_json(res, 200, {{"dataset", name}, {"images", split.images.size()}, {"ground_truth", truth.annotations.size()},
                       {"detections", detections.size()}, {"classification_model", classifier_name},
                       {"segmentation_model", segmenter_name}, {"ap50", ap50.stats[0]}, {"per_class", per_class}});
}

}  // namespace

bool is_annotation_upload(const httplib::Request& req) {
  return (req.method == "POST" && (req.path == "/api/annotate/region" || req.path == "/api/annotate/background")) ||
         (req.method == "PUT" && req.path.rfind("/api/datasets/", 0) == 0);
}

void add_annotation_routes(httplib::Server& http, const AnnotationContext& context) {
  const AnnotationContext* c = &context;
  http.Post("/api/annotate/region", [c](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    handle(res, [&] { region(*c, read_capped(req, reader, c->max_image_bytes, "an image upload"), res); });
  });
  http.Post("/api/annotate/background", [c](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    handle(res, [&] { background(*c, read_capped(req, reader, c->max_image_bytes, "an image upload"), res); });
  });
  http.Get("/api/optics/contrast", [](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { optics_contrast(req, res); });
  });
  http.Get("/api/datasets", [c](const httplib::Request&, httplib::Response& res) {
    handle(res, [&] { send_json(res, 200, c->datasets.list()); });
  });
  http.Post("/api/datasets", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] {
      const nlohmann::json body = json_body(req, false);
      const std::string name = string_member(body, "name", "");
      send_json(res, 201, c->datasets.create(name, body.value("categories", nlohmann::json::array())));
    });
  });
  http.Put(R"(/api/datasets/([^/]+)/images/([^/]+))",
           [c](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
             handle(res, [&] {
               const httplib::Request full = read_capped(req, reader, c->max_image_bytes, "an image upload");
               if (full.body.empty()) throw HttpError(400, "the image is empty (send the file as the request body)");
               c->check_image(full.body, req.matches[2]);
               // Decoded once now, so a cut-off, gray or tiny image is a 400 here rather than a failed job later.
               on_pool(*c, [&] { return decode_image(full.body, req.matches[2]).empty(); });
               send_json(res, 200, c->datasets.put_image(req.matches[1], req.matches[2], full.body));
             });
           });
  http.Get(R"(/api/datasets/([^/]+)/images/([^/]+))", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { res.set_content(c->datasets.image(req.matches[1], req.matches[2]), "application/octet-stream"); });
  });
  http.Delete(R"(/api/datasets/([^/]+)/images/([^/]+))", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] {
      c->datasets.remove_image(req.matches[1], req.matches[2]);
      send_json(res, 200, {{"deleted", req.matches[2].str()}});
    });
  });
  http.Get(R"(/api/datasets/([^/]+)/export)", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] {
      const nlohmann::json coco = c->datasets.get(req.matches[1]);
      res.set_header("Content-Disposition", "attachment; filename=\"" + req.matches[1].str() + ".coco.json\"");
      send_json(res, 200, coco);
    });
  });
  http.Post(R"(/api/datasets/([^/]+)/train)", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { train(*c, req.matches[1], req, res); });
  });
  http.Post(R"(/api/datasets/([^/]+)/evaluate)", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { evaluate(*c, req.matches[1], req, res); });
  });
  http.Get(R"(/api/datasets/([^/]+))", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] { send_json(res, 200, c->datasets.get(req.matches[1])); });
  });
  http.Put(R"(/api/datasets/([^/]+))",
           [c](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
             handle(res, [&] {
               const httplib::Request full = read_capped(req, reader, kDatasetBytes, "a dataset update");
               send_json(res, 200, c->datasets.update(req.matches[1], json_body(full, false)));
             });
           });
  http.Delete(R"(/api/datasets/([^/]+))", [c](const httplib::Request& req, httplib::Response& res) {
    handle(res, [&] {
      c->datasets.remove(req.matches[1]);
      send_json(res, 200, {{"deleted", req.matches[1].str()}});
    });
  });
}

}  // namespace maskterial::serve
