#include "maskterial/serve/server.hpp"

#include <malloc.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <httplib.h>
#include <opencv2/imgcodecs.hpp>
#include <spdlog/spdlog.h>

#include "annotation_routes.hpp"
#include "classification_backend.hpp"
#include "detection.hpp"
#include "http_helpers.hpp"
#include "paced_stream.hpp"
#include "scan_routes.hpp"
#include "segmentation_backend.hpp"
#include "upload_form.hpp"
#include "maskterial/classify/registry.hpp"
#include "maskterial/core/defaults.hpp"
#include "maskterial/core/shipped_models.hpp"
#include "maskterial/image/header.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/pipeline/outputs.hpp"
#include "maskterial/serve/http_error.hpp"
#include "maskterial/serve/model_store.hpp"
#include "maskterial/serve/training_jobs.hpp"
#include "maskterial/serve/worker_pool.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "web_assets.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr size_t kSmallBody = size_t{1} << 20;  // the largest body a request other than an upload may have

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string content_type_of(std::string_view path) {
  const auto ends_with = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".json")) return "application/json";
  if (ends_with(".png")) return "image/png";
  if (ends_with(".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

const WebAsset* find_asset(std::string_view path) {
  for (const auto& asset : web_assets())
    if (asset.path == path) return &asset;
  return nullptr;
}

nlohmann::json postprocessing_models() {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& set : postprocessing_rule_sets()) list.push_back({{"name", set.name}, {"description", set.description}});
  return list;
}

// The types a training job may have, for the page.
nlohmann::json training_types() {
  nlohmann::json types = nlohmann::json::array();
  for (const ClassifierType& t : classifier_types())
    types.push_back({{"type", t.name}, {"kind", "classification"}, {"description", t.description}});
  types.push_back({{"type", kSegmenterJob}, {"kind", "segmentation"}, {"description", "fine-tunes a segmentation model"}});
  return types;
}

// Debian's cpp-httplib 0.11 is compiled with a listen backlog of 5: a burst of new connections overflows it and
// clients see resets. Its listening socket is reachable from a subclass, and listen() again widens the backlog.
// Connections are served through PacedStream, so slow clients are cut off (httplib's own stream only times out
// single reads, and a byte every few seconds holds a connection thread forever).
// Set by the error handler when httplib itself refused a request it could not read (a malformed request line or
// header, a body over its limit): what follows on that connection is not a request, so the connection is closed
// after the answer instead of answering every following line with another 400. Connection threads serve one
// request at a time, so the flag is per thread.
thread_local bool unreadable_request = false;

class HttpServer : public httplib::Server {
 public:
  void widen_backlog() const { ::listen(svr_sock_, SOMAXCONN); }
  ConnectionLimits limits;

  // httplib's stop() does nothing before listen() has started, which would then serve forever (a SIGTERM
  // during start-up); closing the socket first makes a later listen() return at once.
  void shut_down() {
    if (is_running()) return stop();
    const socket_t sock = svr_sock_.exchange(INVALID_SOCKET);
    if (sock == INVALID_SOCKET) return;
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    PacedStream stream(sock, limits);
    bool ok = false;
    for (size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
      if (!wait_for_request(stream)) break;
      stream.next_request();
      bool closed = false;
      unreadable_request = false;
      ok = process_request(stream, left == 1, closed, [](httplib::Request&) {});
      if (!ok || closed || unreadable_request) break;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  // Keep-alive: the next request, in slices so that stop() is noticed.
  bool wait_for_request(PacedStream& stream) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
    while (svr_sock_ != INVALID_SOCKET && std::chrono::steady_clock::now() < deadline)
      if (stream.wait_for_request(100)) return true;
    return false;
  }
};

// The worker threads to run: one per core unless set.
size_t worker_count(size_t requested) {
  return requested ? requested : std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  ModelStore store;
  WorkerPool pool;
  TrainingJobs jobs;
  AnnotationDatasets datasets;
  AnnotationContext annotation;
  std::unique_ptr<store::ScanStore> scans;  // before its jobs, which use it until they are destroyed
  std::unique_ptr<ScanJobs> scan_jobs;
  ScanContext scan_context;
  HttpServer http;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  explicit Impl(ServerOptions o)
      : options(std::move(o)),
        store(options.models_dir, options.default_segmentation_model.empty() ? fs::path(shipped_segmenter_dir())
                                                                             : options.default_segmentation_model),
        pool(worker_count(options.workers), options.queue),
        jobs(store),
        datasets(options.datasets_dir.empty() ? options.models_dir / "datasets" : options.datasets_dir),
        annotation{store, jobs, pool, datasets, options.max_image_bytes,
                   [this](const std::string& bytes, const std::string& name) { check_image(bytes, name); }},
        scans(options.scans_db.empty() ? nullptr : store::open_sqlite_scan_store(options.scans_db.string())),
        scan_jobs(scans ? std::make_unique<ScanJobs>(*scans, static_cast<int>(pool.threads())) : nullptr),
        scan_context{scans.get(), scan_jobs.get(), store, options.scan_root} {
    // Several workers already keep the cores busy with one image each; libtorch's own threads inside each
    // would only contend (2 workers x 2 threads on 2 cores).
    if (pool.threads() > 1) set_compute_threads(1);
    // glibc gives each of the (up to 64) connection threads an arena of its own, up to 8 per core; every one
    // keeps the fragments of the request bodies it held, and RSS grew with each burst (+6 %, +8 %, +13 % over
    // three 64-client bursts). As many arenas as workers, at least 2, kept it at +2.6 % with the same
    // throughput. Set before any connection thread allocates (their pool starts in listen()).
    ::mallopt(M_ARENA_MAX, static_cast<int>(std::max<size_t>(2, pool.threads())));
    http.limits.grace_s = options.client_grace_s;
    http.limits.min_bytes_per_s = options.client_min_bytes_per_s;
    // httplib's default also sets SO_REUSEPORT, with which a second server on a taken port starts silently and
    // shares the requests; only SO_REUSEADDR (restart right after a stop) is wanted.
    http.set_socket_options([](socket_t sock) {
      const int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    const size_t connections = std::max<size_t>(options.connections, 4);
    http.new_task_queue = [connections] { return new httplib::ThreadPool(connections); };
    // Bodies are capped per route by read_capped; this only bounds what httplib itself would accept.
    http.set_payload_max_length(
        std::max({options.max_image_bytes, options.max_model_bytes, options.max_training_bytes}) + kDrainLimit);
    http.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      return refuse_body(req, res) ? httplib::Server::HandlerResponse::Handled
                                   : httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return;  // a route's own answer
      // httplib's own errors (413, 400, 414, 404 for unknown routes) get a JSON body too
      send_error(res, res.status, res.status == 404   ? "no such endpoint"
                                  : res.status == 413 ? "upload too large"
                                  : res.status == 400 ? "malformed request (request line, headers or body)"
                                                      : "HTTP error " + std::to_string(res.status));
      if (res.status != 404) {
        unreadable_request = true;
        res.set_header("Connection", "close");
      }
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      send_error(res, 500, "internal error");
    });
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      spdlog::debug("{} {} -> {}", req.method, req.path, res.status);
    });
    add_routes();
  }

  // The upload routes read their bodies with a cap each (read_capped, which counts what arrives, whatever the
  // content encoding); every other request has no use for a large body, so one is refused before httplib
  // reads it into memory. A chunked body is refused everywhere before a byte of it is read: off the upload
  // routes it has no size to check, and on them httplib's chunk parser reads a negative chunk size as "to the
  // end of the stream". Browsers, curl -F and every HTTP library send a file upload with its Content-Length.
  static bool refuse_body(const httplib::Request& req, httplib::Response& res) {
    const bool upload_route = (req.method == "POST" && (req.path == "/api/predict" || req.path == "/api/jobs")) ||
                              (req.method == "PUT" && req.path.rfind("/api/models/", 0) == 0) ||
                              is_annotation_upload(req);
    const bool chunked = req.has_header("Transfer-Encoding");
    if (upload_route && chunked) {
      res.set_header("Connection", "close");
      send_error(res, 411, req.method + " " + req.path +
                               ": send the upload with a Content-Length (chunked bodies are refused)");
      return true;
    }
    if (upload_route) return false;
    const bool unsized = chunked || req.has_header("Content-Encoding");
    const bool large = req.has_header("Content-Length") &&
                       std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > kSmallBody;
    if (!unsized && !large) return false;
    res.set_header("Connection", "close");  // the body is not read, so the connection cannot be reused
    send_error(res, 413, req.method + " " + req.path + " takes no upload" +
                             (unsized ? " (chunked or compressed bodies are refused here)" : ""));
    return true;
  }

  void add_routes() {
    http.Get("/api/health", [this](const httplib::Request&, httplib::Response& res) { handle(res, [&] { health(res); }); });
    http.Get("/api/openapi.json", [](const httplib::Request&, httplib::Response& res) {
      const WebAsset* spec = find_asset("openapi.json");
      res.set_content(spec->content.data(), spec->content.size(), "application/json");
    });
    http.Get("/api/models", [this](const httplib::Request&, httplib::Response& res) {
      handle(res, [&] {
        nlohmann::json list = store.list();
        list["postprocessing"] = postprocessing_models();
        list["training_types"] = training_types();
        send_json(res, 200, list);
      });
    });
    // Registered before the plain model routes, which would match these paths too.
    http.Get(R"(/api/models/([^/]+)/([^/]+)/files/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      handle(res, [&] {
        const std::string content = store.file(parse_model_kind(req.matches[1]), req.matches[2], req.matches[3]);
        res.set_header("Content-Disposition", "attachment; filename=\"" + req.matches[3].str() + "\"");
        res.set_content(content, "application/octet-stream");
      });
    });
    http.Get(R"(/api/models/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      handle(res, [&] { send_json(res, 200, store.describe(parse_model_kind(req.matches[1]), req.matches[2])); });
    });
    http.Put(R"(/api/models/([^/]+)/(.+))",
             [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
               handle(res, [&] { upload_model(read_capped(req, reader, options.max_model_bytes, "a model upload"), res); });
             });
    http.Delete(R"(/api/models/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      handle(res, [&] {
        store.remove(parse_model_kind(req.matches[1]), req.matches[2]);
        send_json(res, 200, {{"deleted", req.matches[2].str()}});
      });
    });
    http.Post("/api/predict",
              [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                handle(res, [&] { predict(read_capped(req, reader, options.max_image_bytes, "an image upload"), res); });
              });
    http.Post("/api/jobs",
              [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
                handle(res, [&] { start_job(read_capped(req, reader, options.max_training_bytes, "a training upload"), res); });
              });
    http.Get("/api/jobs", [this](const httplib::Request&, httplib::Response& res) {
      handle(res, [&] { send_json(res, 200, jobs.list()); });
    });
    http.Get(R"(/api/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      handle(res, [&] { send_json(res, 200, jobs.status(req.matches[1])); });
    });
    http.Delete(R"(/api/jobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      handle(res, [&] {
        const nlohmann::json answer = jobs.cancel(req.matches[1]);
        send_json(res, answer.contains("deleted") ? 200 : 202, answer);
      });
    });
    add_annotation_routes(http, annotation);
    add_scan_routes(http, scan_context);
    // The web page: every other GET is a file of web/, "/" is the page itself.
    http.Get(R"(/(.*))", [](const httplib::Request& req, httplib::Response& res) {
      const std::string path = req.matches[1].str().empty() ? "index.html" : req.matches[1].str();
      const WebAsset* asset = path.rfind("api/", 0) == 0 ? nullptr : find_asset(path);
      if (!asset) return send_error(res, 404, "no such endpoint or page: " + req.path);
      res.set_content(asset->content.data(), asset->content.size(), content_type_of(asset->path));
    });
  }

  // A decoded image must fit in memory: its size is read from the header by the format's own library before
  // anything is decoded, and what cannot be sized is not decoded at all.
  void check_image(const std::string& bytes, const std::string& name) const {
    try {
      check_image_header(bytes, name, options.max_image_pixels);
    } catch (const ImageTooLarge& e) {
      throw HttpError(413, e.what());
    } catch (const Error& e) {
      throw HttpError(415, e.what());
    }
  }

  void health(httplib::Response& res) {
    const nlohmann::json models = store.list();
    send_json(res, 200,
              {{"status", "ok"},
               {"version", kVersion},
               {"uptime_s", ms_since(started) / 1000},
               {"models", {{"classification", models["classification"].size()},
                           {"segmentation", models["segmentation"].size()}}},
               {"workers", {{"threads", pool.threads()}, {"busy", pool.busy()}, {"queued", pool.queued()},
                            {"queue_capacity", pool.capacity()}}},
               {"training_job_running", jobs.busy()}});
  }

  // Uploads take the request by value: file contents are moved on, never copied (training sets can be large).
  void upload_model(httplib::Request req, httplib::Response& res) {
    const ModelKind kind = parse_model_kind(req.matches[1]);
    const std::string name = req.matches[2];
    const bool overwrite = flag_field(req, "overwrite");
    store.check_installable(kind, name, overwrite);
    const ModelFiles files = model_files_of(req);
    bool existed = false;
    try {
      store.describe(kind, name);
      existed = true;
    } catch (const HttpError&) {
      // a new model
    }
    send_json(res, existed ? 200 : 201, store.install(kind, name, files, overwrite));
  }

  // detect's flake-extraction options, from the form (defaults: detect's).
  static DetectionSettings detection_settings(const httplib::Request& req) {
    DetectionSettings settings;
    settings.postprocessing = postprocessing_rule_set(text_field(req, "postprocessing", settings.postprocessing)).name;
    DetectorOptions& d = settings.detector;
    d.distance_threshold = number_field(req, "std_threshold", d.distance_threshold, 0, 1e3);
    const double size_threshold = number_field(req, "size_threshold", d.size_threshold, 1, 1 << 30);
    if (size_threshold != std::floor(size_threshold))
      throw HttpError(400, "form field 'size_threshold' must be a whole number of pixels");
    d.size_threshold = static_cast<int>(size_threshold);
    d.min_score = number_field(req, "min_score", d.min_score, 0, 1);
    d.report_unknown = flag_field(req, "report_unknown");
    settings.score_threshold = number_field(req, "score_threshold", settings.score_threshold, 0, 0.999);
    d.min_class_occupancy = number_field(req, "min_class_occupancy", d.min_class_occupancy, 0, 1);
    d.split_by_class = !flag_field(req, "majority_vote");
    d.split_by_contrast = !flag_field(req, "no_terrace_split");
    d.find_faint_regions = !flag_field(req, "no_faint_regions");
    d.unknown_inside_masks = !flag_field(req, "known_classes_only");
    return settings;
  }

  // The segmentation model a request asks for: by default detect's (none with the 2DMatGMM rules, which had
  // none), "none" for flakes from the classifier alone.
  std::string segmentation_model_name(const httplib::Request& req, const DetectionSettings& settings) const {
    const bool compat = settings.postprocessing == "2dmatgmm";
    const std::string name = text_field(req, "segmentation_model", "");
    if (name.empty()) return compat ? kNoSegmentationModel : store.default_segmentation_model();
    if (compat && name != kNoSegmentationModel)
      throw HttpError(400, "the 2dmatgmm post-processing runs without a segmentation model; send "
                           "segmentation_model=none or leave it out");
    return name;
  }

  void predict(const httplib::Request& req, httplib::Response& res) {
    const auto received = std::chrono::steady_clock::now();
    if (!req.is_multipart_form_data())
      throw HttpError(415, "send multipart/form-data with the image file in the field 'image'");
    const auto image_part = req.files.find("image");
    if (image_part == req.files.end()) throw HttpError(400, "no image: the form needs a file field 'image'");
    const httplib::MultipartFormData& image = image_part->second;
    const std::string image_name = image.filename.empty() ? "image" : fs::path(image.filename).filename().string();
    if (image.content.empty()) throw HttpError(400, image_name + ": the uploaded image is empty");

    const std::string model_name = text_field(req, "classification_model", kBuiltinClassificationModel);
    const DetectionSettings settings = detection_settings(req);
    const std::string segmentation_name = segmentation_model_name(req, settings);
    const bool segmented = segmentation_name != kNoSegmentationModel;
    const bool overlay = flag_field(req, "overlay");
    // Held by this request until it is answered, whatever happens to the model store meanwhile.
    const std::shared_ptr<const ClassificationModel> model = store.classification_model(model_name);
    segment::SegmenterPtr segmenter;
    if (segmented) {
      try {
        segmenter = store.segmentation_model(segmentation_name)->at_threshold(settings.score_threshold);
      } catch (const HttpError&) {
        throw;
      } catch (const Error& e) {
        throw HttpError(409, "segmentation model '" + segmentation_name + "' failed to load: " + e.what());
      }
    }
    nlohmann::json models = {{"classification", store.provenance(ModelKind::Classification, model_name)},
                             {"segmentation", segmented ? store.provenance(ModelKind::Segmentation, segmentation_name)
                                                        : nlohmann::json()},
                             {"postprocessing", settings.postprocessing}};

    check_image(image.content, image_name);

    auto work = [&, model, segmenter]() {
      const auto start = std::chrono::steady_clock::now();
      const cv::Mat bgr8 = decode_image(image.content, image_name, options.max_image_pixels);
      const double decode_ms = ms_since(start);
      const Detection detection = run_detection(*model, segmenter, bgr8, image_name, settings);
      nlohmann::json out = detection_to_json(detection);
      out["models"] = models;
      out["settings"] = settings.to_json(segmented);
      out["version"] = kVersion;
      if (overlay) {
        const std::vector<uchar> png = encode_overlay(bgr8, detection, OverlayFormat::Png);
        out["overlay_png_base64"] = base64_encode(std::string(png.begin(), png.end()));
      }
      out["timing_ms"] = {{"decode", decode_ms}, {"detect", ms_since(start) - decode_ms}};
      return out;
    };
    auto future = pool.try_submit(work);
    if (!future) {
      res.set_header("Retry-After", "1");
      throw HttpError(503, "busy: all " + std::to_string(pool.threads()) + " workers are busy and " +
                               std::to_string(pool.capacity()) + " requests are waiting; retry shortly");
    }
    nlohmann::json out = future->get();
    out["timing_ms"]["total"] = ms_since(received);
    send_json(res, 200, out);
  }

  // A whole number form field in [min, max]; 0 when absent.
  static int64_t count_field(const httplib::Request& req, const std::string& name, double min, double max) {
    const double value = number_field(req, name, 0, 0, max);
    if (value != std::floor(value) || (value != 0 && value < min))
      throw HttpError(400, "form field '" + name + "' must be a whole number in [" + std::to_string(int64_t(min)) +
                               ", " + std::to_string(int64_t(max)) + "]");
    return static_cast<int64_t>(value);
  }

  void start_job(httplib::Request req, httplib::Response& res) {
    if (!req.is_multipart_form_data())
      throw HttpError(415, "send multipart/form-data: files 'images' (repeated), file 'annotations' (COCO JSON), "
                           "field 'model'");
    TrainingUpload upload;
    upload.model_name = text_field(req, "model", "");
    if (upload.model_name.empty()) throw HttpError(400, "form field 'model' (name of the model to train) is missing");
    upload.overwrite = flag_field(req, "overwrite");
    upload.type = text_field(req, "type", upload.type);
    check_training_type(upload.type);
    upload.base = text_field(req, "base", "");
    upload.iterations = count_field(req, "iterations", 1, 100000);
    upload.batch_size = static_cast<int>(count_field(req, "batch_size", 1, 64));
    upload.crop_size = static_cast<int>(count_field(req, "crop_size", 64, 2048));
    upload.unlabelled = flag_field(req, "unlabelled");
    if (!req.has_file("annotations")) throw HttpError(400, "no annotations: the form needs a COCO JSON file 'annotations'");
    upload.annotations = std::move(req.files.find("annotations")->second.content);
    const auto [first, last] = req.files.equal_range("images");
    for (auto it = first; it != last; ++it) {
      upload.images.emplace_back(fs::path(it->second.filename).filename().string(), std::move(it->second.content));
      check_image(upload.images.back().second, upload.images.back().first);
    }
    send_json(res, 202, jobs.start(std::move(upload)));
  }
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Server::~Server() { stop(); }

int Server::bind() {
  const auto& o = impl_->options;
  const int port = o.port == 0 ? impl_->http.bind_to_any_port(o.host) : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (port <= 0) throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) + " (port taken or bad address)");
  impl_->http.widen_backlog();
  return port;
}

void Server::listen() { impl_->http.listen_after_bind(); }

void Server::stop() {
  if (impl_) impl_->http.shut_down();
}

}  // namespace maskterial::serve
