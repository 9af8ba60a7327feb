#include "maskterial/serve/training_jobs.hpp"

#include <chrono>
#include <ctime>
#include <set>

#include <spdlog/spdlog.h>

#include "classification_backend.hpp"
#include "maskterial/serve/http_error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;

namespace maskterial::serve {
namespace {

constexpr size_t kKeptJobs = 50;

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string base_name(const std::string& path) { return fs::path(path).filename().string(); }

// Messages name the server's temporary folder; the client knows its files by name only.
std::string without_folder(std::string message, const fs::path& folder) {
  const std::string prefix = folder.string() + "/";
  for (size_t at = message.find(prefix); at != std::string::npos; at = message.find(prefix, at))
    message.erase(at, prefix.size());
  return message;
}

}  // namespace

struct TrainingJobs::Job {
  size_t id = 0;
  std::string model;
  std::string type;
  bool overwrite = false;
  std::string state = "running";  // running, succeeded, failed
  double progress = 0;
  std::string stage = "starting";
  std::string created, finished;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  double seconds = 0;
  size_t images = 0;
  std::vector<std::string> warnings;
  std::string error;
  nlohmann::json result;  // description of the installed model
};

TrainingJobs::TrainingJobs(ModelStore& store) : store_(store) {}

TrainingJobs::~TrainingJobs() {
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
    store_.check_installable(ModelKind::Classification, upload.model_name, upload.overwrite);
    if (upload.images.empty()) throw HttpError(400, "no training images uploaded (form field 'images')");
    coco::Dataset dataset;
    try {
      dataset = coco::dataset_from_json(nlohmann::json::parse(upload.annotations), "annotations");
    } catch (const nlohmann::json::exception& e) {
      throw HttpError(400, std::string("annotations: not valid JSON: ") + e.what());
    } catch (const Error& e) {
      throw HttpError(400, e.what());
    }
    if (dataset.annotations.empty()) throw HttpError(400, "annotations: the COCO file has no annotations");

    auto job = std::make_shared<Job>();
    job->model = upload.model_name;
    job->overwrite = upload.overwrite;
    job->type = upload.type;
    job->created = utc_now();
    std::set<std::string> uploaded;
    for (const auto& [name, content] : upload.images) {
      check_file_name(name);
      if (!uploaded.insert(name).second) throw HttpError(400, "image '" + name + "' uploaded twice");
    }
    // Train on the annotated images that were uploaded, looked up by base name.
    std::vector<coco::ImageInfo> used;
    std::set<std::string> listed;
    for (auto image : dataset.images) {
      image.file_name = base_name(image.file_name);
      listed.insert(image.file_name);
      if (uploaded.count(image.file_name))
        used.push_back(image);
      else
        job->warnings.push_back(image.file_name + ": listed in the annotations but not uploaded; left out");
    }
    for (const auto& name : uploaded)
      if (!listed.count(name)) job->warnings.push_back(name + ": not listed in the annotations; left out");
    if (used.empty()) throw HttpError(400, "none of the uploaded images is listed in the annotations");
    dataset.images = std::move(used);
    job->images = dataset.images.size();

    const fs::path images_dir = store_.make_staging_directory(ModelKind::Classification, upload.model_name);
    try {
      for (const auto& [name, content] : upload.images)
        if (listed.count(name)) write_file_atomic((images_dir / name).string(), content);
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
  spdlog::info("training job {}: {} classification model '{}' from {} image(s)", job->id, job->type, job->model,
               job->images);
  const auto progress = [&](double fraction, const std::string& stage) {
    std::lock_guard<std::mutex> lock(mutex_);
    job->progress = fraction;
    job->stage = stage;
  };
  std::string error;
  nlohmann::json result;
  std::vector<std::string> skipped;
  try {
    const fs::path model_dir = store_.make_staging_directory(ModelKind::Classification, job->model);
    try {
      skipped = train_classification_model(job->type, dataset, images_dir.string(), model_dir, progress);
    } catch (...) {
      fs::remove_all(model_dir);
      throw;
    }
    progress(0.98, "validating and installing");
    result = store_.install_directory(ModelKind::Classification, job->model, model_dir, job->overwrite);
  } catch (const std::exception& e) {
    error = without_folder(e.what(), images_dir);
  }
  std::error_code ec;
  fs::remove_all(images_dir, ec);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& problem : skipped) job->warnings.push_back(without_folder(problem, images_dir));
  job->state = error.empty() ? "succeeded" : "failed";
  job->error = error;
  job->result = result;
  job->stage = error.empty() ? "done" : "failed";
  if (error.empty()) job->progress = 1.0;
  job->finished = utc_now();
  job->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - job->start).count();
  busy_ = false;
  if (error.empty())
    spdlog::info("training job {}: model '{}' installed ({:.1f} s)", job->id, job->model, job->seconds);
  else
    spdlog::warn("training job {} failed: {}", job->id, error);
}

nlohmann::json TrainingJobs::to_json(const Job& job) const {
  const double seconds = job.state == "running"
                             ? std::chrono::duration<double>(std::chrono::steady_clock::now() - job.start).count()
                             : job.seconds;
  nlohmann::json j = {{"id", std::to_string(job.id)}, {"kind", "classification"}, {"model", job.model}, {"type", job.type},
                      {"state", job.state},           {"progress", job.progress},  {"stage", job.stage},
                      {"images", job.images},         {"created", job.created},    {"seconds", seconds},
                      {"warnings", job.warnings}};
  if (!job.finished.empty()) j["finished"] = job.finished;
  if (!job.error.empty()) j["error"] = job.error;
  if (!job.result.is_null()) j["result"] = job.result;
  return j;
}

nlohmann::json TrainingJobs::status(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [number, job] : jobs_)
    if (std::to_string(number) == id) return to_json(*job);
  throw HttpError(404, "no training job '" + id + "'");
}

nlohmann::json TrainingJobs::list() const {
  std::lock_guard<std::mutex> lock(mutex_);
  nlohmann::json out = nlohmann::json::array();
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) out.push_back(to_json(*it->second));
  return out;
}

}  // namespace maskterial::serve
