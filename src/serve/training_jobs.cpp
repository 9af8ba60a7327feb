#include "maskterial/serve/training_jobs.hpp"

#include <chrono>
#include <cstring>
#include <cstdlib>
#include <set>

#include <spdlog/spdlog.h>

#include "classification_backend.hpp"
#include "detection.hpp"
#include "http_helpers.hpp"
#include "segmentation_backend.hpp"
#include "maskterial/classify/trainers.hpp"
#include "maskterial/image/header.hpp"
#include "maskterial/serve/http_error.hpp"
#include "maskterial/util/cancellation.hpp"
#include "maskterial/util/clock.hpp"
#include "maskterial/util/files.hpp"
#include "maskterial/util/progress.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr size_t kKeptJobs = 50;
constexpr size_t kMaxLossPoints = 1000;

std::string base_name(const std::string& path) { return fs::path(path).filename().string(); }

constexpr const char* kUnlabelledFolder = "unlabelled";  // inside a segmenter job's staging folder

// Messages name the server's temporary folder; the client knows its files by name only.
std::string without_folder(std::string message, const fs::path& folder) {
  const std::string prefix = folder.string() + "/";
  for (size_t at = message.find(prefix); at != std::string::npos; at = message.find(prefix, at))
    message.erase(at, prefix.size());
  return message;
}

// The COCO file restricted to the uploaded images (and their annotations), each image's declared size checked
// against its file's real one first: masks are rasterised at the declared size, so a 2 KB file declaring
// 1048576 x 4095 pixels would otherwise cost gigabytes and minutes. An annotation on an image the file does not
// list is refused (as every route does); those on listed images that were not uploaded are counted in left_out.
nlohmann::json annotations_of_uploaded(const std::string& text, const std::map<std::string, cv::Size>& uploaded,
                                       size_t& left_out) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw HttpError(400, std::string("annotations: not valid JSON: ") + e.what());
  }
  if (!root.is_object() || !root.contains("images") || !root["images"].is_array() || !root.contains("annotations") ||
      !root["annotations"].is_array())
    throw HttpError(400, "annotations: a COCO file needs \"images\" and \"annotations\" lists");
  nlohmann::json images = nlohmann::json::array(), annotations = nlohmann::json::array();
  std::set<nlohmann::json> ids, listed_ids;
  for (const auto& image : root["images"]) {
    if (image.is_object()) listed_ids.insert(image.value("id", nlohmann::json()));
    if (!image.is_object() || !image.contains("file_name") || !image["file_name"].is_string()) continue;
    const auto it = uploaded.find(base_name(image["file_name"].get<std::string>()));
    if (it == uploaded.end()) continue;
    const nlohmann::json width = image.value("width", nlohmann::json()), height = image.value("height", nlohmann::json());
    if (width != it->second.width || height != it->second.height)
      throw HttpError(400, "annotations: image '" + it->first + "' is declared " + width.dump() + "x" + height.dump() +
                               " but the file is " + std::to_string(it->second.width) + "x" +
                               std::to_string(it->second.height));
    images.push_back(image);
    ids.insert(image.value("id", nlohmann::json()));
  }
  left_out = 0;
  for (size_t i = 0; i < root["annotations"].size(); ++i) {
    const nlohmann::json& a = root["annotations"][i];
    const nlohmann::json image_id = a.is_object() ? a.value("image_id", nlohmann::json()) : nlohmann::json();
    if (ids.count(image_id)) {
      annotations.push_back(a);
    } else if (!listed_ids.count(image_id)) {
      const std::string which = a.is_object() && a.contains("id") && a["id"].is_number() ? "annotation " + a["id"].dump()
                                                                                          : "annotations[" + std::to_string(i) + "]";
      throw HttpError(400, "annotations: " + which + ": image_id " + (image_id.is_number() ? image_id.dump() : "(missing)") +
                               " is not an image of the annotations");
    } else {
      ++left_out;
    }
  }
  root["images"] = std::move(images);
  root["annotations"] = std::move(annotations);
  return root;
}

// Every annotation's category must be one the file lists (where it lists any): a class the trainer does not
// know would otherwise be left out of training without a word.
void check_categories(const coco::Dataset& dataset) {
  if (dataset.categories.empty()) return;
  std::set<int64_t> known;
  for (const auto& c : dataset.categories) known.insert(c.id);
  for (const auto& a : dataset.annotations)
    if (!known.count(a.category_id))
      throw HttpError(400, "annotations: annotation " + std::to_string(a.id) + ": category_id " +
                               std::to_string(a.category_id) + " is not listed in \"categories\"");
}

}  // namespace

void check_training_type(const std::string& type) {
  if (type == kSegmenterJob) return;
  try {
    classifier_trainer(type);
  } catch (const Error& e) {
    throw HttpError(400, std::string("form field 'type': ") + e.what() + " or '" + kSegmenterJob + "'");
  }
}

struct TrainingJobs::Job {
  size_t id = 0;
  ModelKind kind = ModelKind::Classification;
  std::string model, type, base;
  bool overwrite = false;
  FinetuneSchedule schedule;
  std::string state = "running";  // running, cancelling, succeeded, failed, cancelled
  double progress = 0;
  std::string stage = "starting";
  std::vector<std::pair<size_t, double>> loss;  // (step, training loss) as the run reports them
  std::string created, finished;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double seconds = 0;
  size_t images = 0;
  size_t unlabelled_images = 0;  // segmenter jobs: unannotated scans in images_dir/unlabelled
  std::vector<std::string> warnings;
  std::string error;
  nlohmann::json result;  // description of the installed model
  std::atomic<bool> cancel{false};
};

TrainingJobs::TrainingJobs(ModelStore& store) : store_(store) {}

TrainingJobs::~TrainingJobs() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [id, job] : jobs_) job->cancel = true;
  }
  if (worker_.joinable()) worker_.join();
}

bool TrainingJobs::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return busy_;
}

nlohmann::json TrainingJobs::start(TrainingUpload upload) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (busy_) throw HttpError(409, "another training job is running; one job runs at a time");
    busy_ = true;  // reserved while the upload is checked
  }
  try {
    check_training_type(upload.type);
    if (upload.unlabelled && upload.type != kSegmenterJob)
      throw HttpError(400, "form field 'unlabelled' applies to segmenter jobs only");
    auto job = std::make_shared<Job>();
    if (upload.type == kSegmenterJob) {
      job->kind = ModelKind::Segmentation;
      job->base = upload.base.empty() ? store_.default_segmentation_model() : upload.base;
      store_.segmentation_model(job->base);  // 404 / 409 now rather than when the job runs
      job->schedule = {upload.iterations, upload.batch_size, upload.crop_size};
    }
    store_.check_installable(job->kind, upload.model_name, upload.overwrite);
    if (upload.images.empty()) throw HttpError(400, "no training images uploaded (form field 'images')");
    std::map<std::string, cv::Size> uploaded;
    for (const auto& [name, content] : upload.images) {
      check_file_name(name);
      if (uploaded.count(name)) throw HttpError(400, "image '" + name + "' uploaded twice");
      try {
        uploaded[name] = read_image_header(content, name).size;
      } catch (const Error& e) {
        throw HttpError(415, e.what());
      }
    }
    size_t left_out = 0;
    const nlohmann::json annotations = annotations_of_uploaded(upload.annotations, uploaded, left_out);
    coco::Dataset dataset;
    try {
      dataset = coco::dataset_from_json(annotations, "annotations", coco::kUploadPolygonBudget);
    } catch (const Error& e) {
      throw HttpError(400, e.what());
    }
    check_categories(dataset);
    if (left_out)
      job->warnings.push_back(std::to_string(left_out) + " annotation(s) on listed images that were not uploaded; left out");
    job->model = upload.model_name;
    job->overwrite = upload.overwrite;
    job->type = upload.type;
    job->created = utc_now();
    std::set<std::string> listed;
    for (auto& image : dataset.images) {
      image.file_name = base_name(image.file_name);
      listed.insert(image.file_name);
    }
    std::set<std::string> unlabelled;
    for (const auto& [name, size] : uploaded)
      if (listed.count(name)) continue;
      else if (upload.unlabelled) unlabelled.insert(name);
      else job->warnings.push_back(name + ": not listed in the annotations; left out");
    if (upload.unlabelled && unlabelled.empty())
      throw HttpError(400, "form field 'unlabelled': every uploaded image is listed in the annotations; upload the "
                           "unannotated scans too");
    job->unlabelled_images = unlabelled.size();
    if (dataset.images.empty()) throw HttpError(400, "none of the uploaded images is listed in the annotations");
    if (dataset.annotations.empty()) throw HttpError(400, "annotations: none of them is on an uploaded image");
    job->images = dataset.images.size();

    const fs::path images_dir = store_.make_staging_directory(job->kind, upload.model_name);
    try {
      for (const auto& [name, content] : upload.images)
        if (listed.count(name)) write_file_atomic((images_dir / name).string(), content);
        else if (unlabelled.count(name)) write_file_atomic((images_dir / kUnlabelledFolder / name).string(), content);
    } catch (...) {
      fs::remove_all(images_dir);
      throw;
    }

    std::lock_guard<std::mutex> lock(mutex_);
    job->id = next_id_++;
    jobs_[job->id] = job;
    while (jobs_.size() > kKeptJobs) jobs_.erase(jobs_.begin());
    if (worker_.joinable()) worker_.join();  // the previous job's thread has finished its work
    worker_ = std::thread([this, job, dataset = std::move(dataset), images_dir]() mutable {
      run(job, std::move(dataset), images_dir);
    });
    return to_json(*job);
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    busy_ = false;
    throw;
  }
}

void TrainingJobs::run(std::shared_ptr<Job> job, coco::Dataset dataset, fs::path images_dir) {
  spdlog::info("training job {}: {} {} model '{}' from {} image(s)", job->id, job->type, to_string(job->kind),
               job->model, job->images);
  const auto progress = [&](double fraction, const std::string& stage) {
    std::lock_guard<std::mutex> lock(mutex_);
    job->progress = fraction;
    job->stage = stage;
  };
  // The runs report their loss (and segmenter runs their progress) through their progress bars.
  const bool segmenter = job->kind == ModelKind::Segmentation;
  const ScopedProgressObserver observer([&](const std::string&, size_t done, size_t total, const std::string& status) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (status.rfind("loss ", 0) == 0 && (job->loss.empty() || job->loss.back().first < done)) {
      job->loss.emplace_back(done, std::strtod(status.c_str() + 5, nullptr));
      if (job->loss.size() > kMaxLossPoints) {  // keep every other point: the curve's shape, bounded
        std::vector<std::pair<size_t, double>> kept;
        for (size_t i = 1; i < job->loss.size(); i += 2) kept.push_back(job->loss[i]);
        job->loss = std::move(kept);
      }
    }
    if (segmenter && total > 0) {
      job->progress = 0.95 * static_cast<double>(done) / total;
      job->stage = "fine-tuning, " + status;
    }
  });
  const ScopedCancellation cancellation(job->cancel);
  std::string error;
  bool cancelled = false;
  nlohmann::json result;
  std::vector<std::string> skipped;
  try {
    const fs::path model_dir = store_.make_staging_directory(job->kind, job->model);
    try {
      if (segmenter) {
        progress(0.0, "fine-tuning");
        const fs::path base = store_.segmentation_model(job->base)->dir();
        finetune_segmentation_model(base, dataset, images_dir.string(), model_dir, images_dir / "run.checkpoint.pt",
                                    job->schedule, job->unlabelled_images ? images_dir / kUnlabelledFolder : fs::path());
      } else {
        // The flake score is re-fitted with detect's default segmentation model, where there is one.
        segment::SegmenterPtr scorer;
        fs::path scorer_dir;
        try {
          const auto default_model = store_.segmentation_model(store_.default_segmentation_model());
          scorer = default_model->at_threshold(DetectionSettings().score_threshold);
          scorer_dir = default_model->dir();
        } catch (const HttpError& e) {
          skipped.push_back(std::string("flake score not fitted: ") + e.what());
        }
        const std::vector<std::string> warnings =
            train_classification_model(job->type, dataset, images_dir.string(), model_dir, progress, scorer, scorer_dir);
        skipped.insert(skipped.end(), warnings.begin(), warnings.end());
      }
    } catch (...) {
      fs::remove_all(model_dir);
      throw;
    }
    throw_if_cancelled();
    progress(0.98, "validating and installing");
    result = store_.install_directory(job->kind, job->model, model_dir, job->overwrite);
  } catch (const Cancelled&) {
    cancelled = true;
  } catch (const std::exception& e) {
    if (without_backtrace(e.what()).size() < std::strlen(e.what())) spdlog::warn("job {}: {}", job->id, e.what());
    error = without_backtrace(without_folder(e.what(), images_dir));
  }
  std::error_code ec;
  fs::remove_all(images_dir, ec);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& problem : skipped) job->warnings.push_back(without_folder(problem, images_dir));
  job->state = cancelled ? "cancelled" : error.empty() ? "succeeded" : "failed";
  job->error = error;
  job->result = result;
  job->stage = job->state == "succeeded" ? "done" : job->state;
  if (job->state == "succeeded") job->progress = 1.0;
  job->finished = utc_now();
  job->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - job->start).count();
  busy_ = false;
  if (job->state == "succeeded")
    spdlog::info("training job {}: model '{}' installed ({:.1f} s)", job->id, job->model, job->seconds);
  else
    spdlog::warn("training job {} {}: {}", job->id, job->state, cancelled ? "on request" : error);
}

nlohmann::json TrainingJobs::to_json(const Job& job) const {
  const bool running = job.finished.empty();
  const double seconds =
      running ? std::chrono::duration<double>(std::chrono::steady_clock::now() - job.start).count() : job.seconds;
  nlohmann::json loss = nlohmann::json::array();
  for (const auto& [step, value] : job.loss) loss.push_back({step, value});
  nlohmann::json j = {{"id", std::to_string(job.id)}, {"kind", to_string(job.kind)}, {"model", job.model},
                      {"type", job.type},             {"state", job.state},          {"progress", job.progress},
                      {"stage", job.stage},           {"images", job.images},        {"created", job.created},
                      {"seconds", seconds},           {"warnings", job.warnings},    {"loss", loss}};
  if (!job.base.empty()) j["base"] = job.base;
  if (job.unlabelled_images) j["unlabelled_images"] = job.unlabelled_images;
  if (!job.finished.empty()) j["finished"] = job.finished;
  if (!job.error.empty()) j["error"] = job.error;
  if (!job.result.is_null()) j["result"] = job.result;
  return j;
}

std::shared_ptr<TrainingJobs::Job> TrainingJobs::find(const std::string& id) const {
  for (const auto& [number, job] : jobs_)
    if (std::to_string(number) == id) return job;
  throw HttpError(404, "no training job '" + id + "'");
}

nlohmann::json TrainingJobs::status(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return to_json(*find(id));
}

nlohmann::json TrainingJobs::cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::shared_ptr<Job> job = find(id);
  if (job->finished.empty()) {
    job->cancel = true;
    job->state = "cancelling";
    return to_json(*job);
  }
  jobs_.erase(job->id);
  return {{"deleted", id}};
}

nlohmann::json TrainingJobs::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json out = nlohmann::json::array();
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) out.push_back(to_json(*it->second));
  return out;
}

}  // namespace maskterial::serve
