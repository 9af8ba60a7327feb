#pragma once
// The server's scan work in the background: scanning a folder (one scan at a time, on the detection threads'
// budget) and re-ranking a scan from its verdicts. Each scan's state (idle, scanning, reranking, failed) and
// progress are readable meanwhile; deleting a scan stops its job first.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "maskterial/pipeline/detector.hpp"
#include "maskterial/store/scan_store.hpp"

namespace maskterial::serve {

class ScanJobs {
 public:
  ScanJobs(store::ScanStore& store, int threads);
  ~ScanJobs();  // stops the running jobs and waits for them
  ScanJobs(const ScanJobs&) = delete;
  ScanJobs& operator=(const ScanJobs&) = delete;

  // Runs prepare (which creates the scan and registers its images) once the job is claimed, then scans the
  // pending images with the detector in the background. HttpError 409 while another scan is being scanned or
  // this one re-ranked; nothing is prepared then.
  store::ScanInfo start_scan(const std::string& name, const std::function<store::ScanInfo()>& prepare,
                             std::shared_ptr<const Detector> detector);
  // Re-ranks the scan from its verdicts (store/rerank.hpp). HttpError 409 while this scan has a job.
  void start_rerank(const store::ScanInfo& scan);
  // {"state", "progress", "error"} of the scan's latest job (idle when none).
  nlohmann::json state(const std::string& name) const;
  // Stops the scan's job, if any, and waits for it; its state is forgotten.
  void stop(const std::string& name);

 private:
  struct Job;
  std::shared_ptr<Job> claim(const std::string& name, const std::string& state);  // HttpError 409
  void launch(const std::shared_ptr<Job>& job, std::function<void(Job&)> work);

  store::ScanStore& store_;
  int threads_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // by scan name
};

}  // namespace maskterial::serve
