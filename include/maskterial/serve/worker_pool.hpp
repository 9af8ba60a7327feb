#pragma once
// A fixed set of threads with a bounded queue. The server runs every detection here so a burst of requests
// cannot start more CPU work than the machine has cores; what does not fit in the queue is refused at once
// (the server answers 503) instead of piling up unbounded latency.
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace maskterial::serve {

class WorkerPool {
 public:
  // threads >= 1 (0 counts as 1); capacity = tasks that may wait while every thread is busy.
  WorkerPool(size_t threads, size_t capacity);
  ~WorkerPool();  // finishes the queued tasks, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // The task's future, or nothing if the queue is full. Exceptions of the task surface from future.get().
  template <typename F>
  auto try_submit(F task) -> std::optional<std::future<decltype(task())>> {
    using Result = decltype(task());
    auto packaged = std::make_shared<std::packaged_task<Result()>>(std::move(task));
    auto future = packaged->get_future();
    if (!try_enqueue([packaged] { (*packaged)(); })) return std::nullopt;
    return future;
  }

  size_t threads() const { return threads_.size(); }
  size_t capacity() const { return capacity_; }
  size_t queued() const;  // waiting, not yet started
  size_t busy() const;    // running now

 private:
  bool try_enqueue(std::function<void()> task);
  void work();

  size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace maskterial::serve
