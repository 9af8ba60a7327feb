#include "scan_jobs.hpp"

#include <spdlog/spdlog.h>

#include "maskterial/serve/http_error.hpp"
#include "maskterial/store/rerank.hpp"
#include "maskterial/store/scan_runner.hpp"
#include "maskterial/util/progress.hpp"

namespace maskterial::serve {

struct ScanJobs::Job {
  std::string name;
  std::string state = "idle";  // idle, scanning, reranking, failed
  double progress = 0;
  std::string error;
  std::atomic<bool> stop{false};
  std::thread thread;
};

ScanJobs::ScanJobs(store::ScanStore& store, int threads) : store_(store), threads_(threads) {}

ScanJobs::~ScanJobs() {
  std::map<std::string, std::shared_ptr<Job>> jobs;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs.swap(jobs_);
  }
  for (auto& [name, job] : jobs) {
    job->stop = true;
    if (job->thread.joinable()) job->thread.join();
  }
}

std::shared_ptr<ScanJobs::Job> ScanJobs::claim(const std::string& name, const std::string& state) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [other, job] : jobs_) {
    if (other == name && (job->state == "scanning" || job->state == "reranking"))
      throw HttpError(409, "scan '" + name + "' is " + job->state + "; try again when it is done");
    if (state == "scanning" && job->state == "scanning")
      throw HttpError(409, "scan '" + other + "' is being scanned; one scan runs at a time");
  }
  std::shared_ptr<Job>& slot = jobs_[name];
  if (slot && slot->thread.joinable()) slot->thread.join();  // finished: its thread only has to be reaped
  slot = std::make_shared<Job>();
  slot->name = name;
  slot->state = state;
  return slot;
}

void ScanJobs::launch(const std::shared_ptr<Job>& job, std::function<void(Job&)> work) {
  job->thread = std::thread([this, job, work = std::move(work)] {
    std::string error;
    try {
      work(*job);
    } catch (const std::exception& e) {
      error = e.what();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (error.empty()) {
      job->state = "idle";
      job->progress = 1;
    } else {
      spdlog::warn("scan '{}': {} failed: {}", job->name, job->state, error);
      job->state = "failed";
      job->error = error;
    }
  });
}

store::ScanInfo ScanJobs::start_scan(const std::string& name, const std::function<store::ScanInfo()>& prepare,
                                     std::shared_ptr<const Detector> detector) {
  const std::shared_ptr<Job> job = claim(name, "scanning");
  store::ScanInfo scan;
  try {
    scan = prepare();
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    job->state = "idle";
    throw;
  }
  launch(job, [this, scan, detector](Job& j) {
    const ScopedProgressObserver observer([&](const std::string&, size_t done, size_t total, const std::string&) {
      std::lock_guard<std::mutex> lock(mutex_);
      j.progress = total ? static_cast<double>(done) / total : 1.0;
    });
    store::ScanRunOptions options;
    options.threads = threads_;
    options.progress = false;
    options.stop = [&j] { return j.stop.load(); };
    const store::ScanRunSummary run = store::scan_pending(store_, scan, *detector, options);
    spdlog::info("scan '{}': {} image(s) stored, {} candidate(s), {} failed{}", scan.name, run.stored, run.candidates,
                 run.errors.size(), run.stopped ? " (stopped)" : "");
  });
  return scan;
}

void ScanJobs::start_rerank(const store::ScanInfo& scan) {
  const std::shared_ptr<Job> job = claim(scan.name, "reranking");
  launch(job, [this, scan](Job&) {
    const nlohmann::json summary = store::rerank_scan(store_, scan);
    spdlog::info("scan '{}' re-ranked: {}", scan.name, summary.dump());
  });
}

nlohmann::json ScanJobs::state(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = jobs_.find(name);
  if (it == jobs_.end()) return {{"state", "idle"}, {"progress", 0}, {"error", ""}};
  return {{"state", it->second->state}, {"progress", it->second->progress}, {"error", it->second->error}};
}

void ScanJobs::stop(const std::string& name) {
  std::shared_ptr<Job> job;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = jobs_.find(name);
    if (it == jobs_.end()) return;
    job = it->second;
    jobs_.erase(it);
  }
  job->stop = true;
  if (job->thread.joinable()) job->thread.join();
}

}  // namespace maskterial::serve
