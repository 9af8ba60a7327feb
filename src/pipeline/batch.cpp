#include "maskterial/pipeline/batch.hpp"

#include <malloc.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "maskterial/image/io.hpp"
#include "maskterial/util/compute_threads.hpp"
#include "maskterial/util/progress.hpp"

namespace maskterial {
namespace {

// Every image allocates buffers of the same sizes (the decoded image, the class map and distances, the overlay).
// glibc gives freed blocks of that size back to the kernel, so each image faulted in fresh zeroed pages: a
// quarter of the CPU of `detect --segmenter none` went to the kernel's page-fault path. Kept in the process,
// the next image reuses them; memory stays at one image's peak per worker.
void keep_freed_image_buffers() {
  static const bool once = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: blocks up to 32 MB come from the heap...
    mallopt(M_TRIM_THRESHOLD, 512 << 20);  // ...and freed ones stay there for the next image
    return true;
  }();
  (void)once;
}

BatchItem process(size_t index, const std::string& path, const DetectFunction& detect, const FinishFunction& finish) {
  BatchItem item;
  item.index = index;
  item.path = path;
  try {
    item.image = load_image(path);
    const auto start = std::chrono::steady_clock::now();
    item.detection = detect(item.image, path);
    item.detect_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (finish) finish(item);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    item.error = what.rfind(path, 0) == 0 ? what : path + ": " + what;
  }
  return item;
}

}  // namespace

BatchSummary run_batch(const std::vector<std::string>& paths, const DetectFunction& detect,
                       const ConsumeFunction& consume, const BatchOptions& options) {
  keep_freed_image_buffers();
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const size_t workers = std::min<size_t>(options.threads > 0 ? options.threads : hw, std::max<size_t>(1, paths.size()));
  if (workers > 1) set_compute_threads(1);  // one image per core already; nested torch threads only contend
  ProgressBar bar(paths.size(), options.label, options.progress);
  BatchSummary summary;

  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::condition_variable ready, space;
  std::map<size_t, BatchItem> done;  // finished items waiting for their turn
  // Bound the items in flight so memory stays flat on 20,000-image scans.
  const size_t max_pending = workers * 2;
  size_t consumed = 0;

  auto worker = [&] {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        space.wait(lock, [&] { return next.load() < consumed + max_pending || next.load() >= paths.size(); });
      }
      const size_t i = next.fetch_add(1);
      if (i >= paths.size()) return;
      BatchItem item = process(i, paths[i], detect, options.finish_on_worker);
      std::lock_guard<std::mutex> lock(mutex);
      done.emplace(i, std::move(item));
      ready.notify_one();
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 0; w < workers; ++w) pool.emplace_back(worker);

  while (consumed < paths.size()) {
    BatchItem item;
    {
      std::unique_lock<std::mutex> lock(mutex);
      ready.wait(lock, [&] { return done.count(consumed) > 0; });
      item = std::move(done.at(consumed));
      done.erase(consumed);
    }
    try {
      consume(item);
    } catch (const std::exception& e) {
      if (item.error.empty()) item.error = item.path + ": " + e.what();
    }
    if (item.error.empty())
      ++summary.succeeded;
    else
      summary.errors.push_back(item.error);
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++consumed;
    }
    space.notify_all();
    bar.advance(1, item.error.empty() ? "" : "(" + std::to_string(summary.errors.size()) + " failed)");
  }
  for (auto& t : pool) t.join();
  bar.finish();
  return summary;
}

}  // namespace maskterial
