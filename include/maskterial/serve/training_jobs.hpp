#pragma once
// Training requested over HTTP: classifiers (gmm, amm, mlp) and fine-tuned segmentation models (segmenter),
// one job at a time on its own thread (detection keeps being served from the worker pool meanwhile), progress
// and loss readable while it runs, cancellable, the trained model installed into the model store when it
// succeeds. Finished jobs stay listed (the most recent 50); shutting down cancels a running job.
#include <atomic>
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

constexpr const char* kSegmenterJob = "segmenter";
// HttpError 400 naming the form field unless `type` is a classifier type or kSegmenterJob.
void check_training_type(const std::string& type);

struct TrainingUpload {
  std::string model_name;    // the model to create
  std::string type = "gmm";  // a classifier type (gmm: seconds; amm, mlp: about a minute) or "segmenter"
  bool overwrite = false;
  std::vector<std::pair<std::string, std::string>> images;  // file name, file content
  std::string annotations;   // COCO instances JSON; images are matched by base file name
  // Segmenter jobs: the segmentation model to fine-tune (empty: the default one) and the schedule (0: the
  // type's fine-tuning defaults).
  std::string base;
  int64_t iterations = 0;
  int batch_size = 0;
  int crop_size = 0;
  // Segmenter jobs: uploaded images that the annotations do not list are the lab's unannotated scans, drawn
  // on with synthetic flakes of the annotated contrasts (finetune --unlabelled), instead of being left out.
  bool unlabelled = false;
};

class TrainingJobs {
 public:
  explicit TrainingJobs(ModelStore& store);
  ~TrainingJobs();  // cancels a running job and waits for its thread (seconds)
  TrainingJobs(const TrainingJobs&) = delete;
  TrainingJobs& operator=(const TrainingJobs&) = delete;

  // Checks the upload (HttpError 400 bad annotations or images, 403/409 model name taken, 404/409 base model)
  // and starts training in the background. HttpError 409 while another job runs. Returns the job's status.
  nlohmann::json start(TrainingUpload upload);
  nlohmann::json status(const std::string& id) const;  // HttpError 404 if unknown
  nlohmann::json list() const;                         // newest first
  // A running job is asked to stop (state "cancelling", then "cancelled"); a finished one is forgotten.
  nlohmann::json cancel(const std::string& id);
  bool busy() const;

 private:
  struct Job;
  void run(std::shared_ptr<Job> job, coco::Dataset dataset, std::filesystem::path images_dir);
  nlohmann::json to_json(const Job& job) const;
  std::shared_ptr<Job> find(const std::string& id) const;  // under mutex_; HttpError 404

  ModelStore& store_;
  mutable std::mutex mutex_;  // guards everything below and every Job's fields
  std::map<size_t, std::shared_ptr<Job>> jobs_;
  size_t next_id_ = 1;
  bool busy_ = false;
  std::thread worker_;
};

}  // namespace maskterial::serve
