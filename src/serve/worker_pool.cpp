#include "maskterial/serve/worker_pool.hpp"

#include <malloc.h>

#include <chrono>

namespace maskterial::serve {

WorkerPool::WorkerPool(size_t threads, size_t capacity) : capacity_(capacity) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

bool WorkerPool::try_enqueue(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Accepted and unfinished tasks: one per thread running, up to capacity_ waiting.
    if (stopping_ || queue_.size() + running_ >= threads_.size() + capacity_) return false;
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

size_t WorkerPool::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

size_t WorkerPool::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

void WorkerPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    auto task = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    task();  // packaged tasks keep their exceptions for the future
    lock.lock();
    --running_;
    // Idle: hand the per-image buffers (a segmentation model's activations are hundreds of MB) back to the
    // system; glibc keeps freed memory in its arenas, so RSS would stay at the burst's peak. Once now, and
    // once more after a moment without work: the connection threads free the request bodies only after
    // their answers are sent.
    for (int trim = 0; trim < 2 && queue_.empty() && running_ == 0; ++trim) {
      if (trim == 1 && wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_ || !queue_.empty(); }))
        break;
      lock.unlock();
      ::malloc_trim(0);
      lock.lock();
    }
  }
}

}  // namespace maskterial::serve
