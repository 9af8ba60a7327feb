#include "maskterial/util/file_writer.hpp"

#include <exception>

#include "maskterial/util/files.hpp"

namespace maskterial {

BackgroundFileWriter::BackgroundFileWriter(size_t max_pending_bytes)
    : max_pending_bytes_(max_pending_bytes), thread_([this] { run(); }) {}

BackgroundFileWriter::~BackgroundFileWriter() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_one();
  thread_.join();
}

void BackgroundFileWriter::write(std::string path, std::string content) {
  std::unique_lock<std::mutex> lock(mutex_);
  // One file larger than the bound still goes through once the queue is empty.
  progressed_.wait(lock, [&] { return pending_bytes_ == 0 || pending_bytes_ + content.size() <= max_pending_bytes_; });
  pending_bytes_ += content.size();
  jobs_.push_back({std::move(path), std::move(content)});
  queued_.notify_one();
}

std::vector<std::string> BackgroundFileWriter::finish() {
  std::unique_lock<std::mutex> lock(mutex_);
  progressed_.wait(lock, [&] { return jobs_.empty() && !writing_; });
  std::vector<std::string> errors;
  errors.swap(errors_);
  return errors;
}

void BackgroundFileWriter::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    queued_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and everything is written
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    writing_ = true;
    lock.unlock();
    std::string error;
    try {
      write_file_atomic(job.path, job.content);
    } catch (const std::exception& e) {
      error = e.what();
    }
    lock.lock();
    writing_ = false;
    pending_bytes_ -= job.content.size();
    if (!error.empty()) errors_.push_back(std::move(error));
    progressed_.notify_all();
  }
}

}  // namespace maskterial
