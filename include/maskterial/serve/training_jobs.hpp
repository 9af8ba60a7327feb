#pragma once
// Classifier training requested over HTTP: one job at a time on its own thread (detection keeps being served
// from the worker pool meanwhile), progress readable while it runs, the trained model installed into the
// model store when it succeeds. Finished jobs stay listed (the most recent 50).
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/serve/model_store.hpp"

namespace maskterial::serve {

struct TrainingUpload {
  std::string model_name;  // the classification model to create
  std::string type = "gmm";  // classifier type: gmm (seconds), amm or mlp (about a minute)
  bool overwrite = false;
  std::vector<std::pair<std::string, std::string>> images;  // file name, file content
  std::string annotations;  // COCO instances JSON; images are matched by base file name
};

class TrainingJobs {
 public:
  explicit TrainingJobs(ModelStore& store);
  ~TrainingJobs();  // waits for a running job to finish
  TrainingJobs(const TrainingJobs&) = delete;
  TrainingJobs& operator=(const TrainingJobs&) = delete;

  // Checks the upload (HttpError 400 bad annotations or images, 403/409 model name taken) and starts training
  // in the background. HttpError 409 while another job runs. Returns the job's status.
  nlohmann::json start(TrainingUpload upload);
  nlohmann::json status(const std::string& id) const;  // HttpError 404 if unknown
  nlohmann::json list() const;                         // newest first
  bool busy() const;

 private:
  struct Job;
  void run(std::shared_ptr<Job> job, coco::Dataset dataset, std::filesystem::path images_dir);
  nlohmann::json to_json(const Job& job) const;

  ModelStore& store_;
  mutable std::mutex mutex_;  // guards everything below and every Job's fields
  std::map<size_t, std::shared_ptr<Job>> jobs_;
  size_t next_id_ = 1;
  bool busy_ = false;
  std::thread worker_;
};

}  // namespace maskterial::serve
