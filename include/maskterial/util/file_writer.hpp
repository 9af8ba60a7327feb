#pragma once
// Writes files atomically (write_file_atomic: temp file, fsync, rename, folder fsync) on a thread of its own, in
// the order given. An fsync waits for the disk (several ms per file on a busy virtual disk) without using the CPU:
// a batch that hands each image's outputs over goes on detecting the next image meanwhile, instead of waiting for
// two fsyncs per output file. Each file keeps write_file_atomic's guarantee (old or new content, whole).
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace maskterial {

class BackgroundFileWriter {
 public:
  // max_pending_bytes: write() waits while this much content is queued, so memory stays bounded when the disk
  // is slower than the images come.
  explicit BackgroundFileWriter(size_t max_pending_bytes = size_t{64} << 20);
  BackgroundFileWriter(const BackgroundFileWriter&) = delete;
  BackgroundFileWriter& operator=(const BackgroundFileWriter&) = delete;
  ~BackgroundFileWriter();  // finish(); errors not collected by then are dropped

  // Queues a file; thread-safe.
  void write(std::string path, std::string content);
  // Waits until every queued file is written; returns the messages of the writes that failed since the last
  // call (each names its file), in order.
  std::vector<std::string> finish();

 private:
  struct Job {
    std::string path, content;
  };
  void run();

  const size_t max_pending_bytes_;
  std::mutex mutex_;
  std::condition_variable queued_, progressed_;
  std::deque<Job> jobs_;
  size_t pending_bytes_ = 0;
  bool writing_ = false;  // the thread holds a job taken off the queue
  bool stopping_ = false;
  std::vector<std::string> errors_;
  std::thread thread_;
};

}  // namespace maskterial
