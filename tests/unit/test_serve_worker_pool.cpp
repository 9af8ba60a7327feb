// The server's worker pool: bounded queue, results and exceptions through futures, drained on destruction.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>

#include "maskterial/serve/worker_pool.hpp"

using maskterial::serve::WorkerPool;

TEST(ServeWorkerPool, RefusesWhatDoesNotFitAndRunsTheRest) {
  WorkerPool pool(2, 3);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> started{0};
  std::vector<std::future<int>> accepted;
  int refused = 0;
  for (int i = 0; i < 10; ++i) {
    auto f = pool.try_submit([&, i] {
      ++started;
      gate.wait();
      return i;
    });
    if (f)
      accepted.push_back(std::move(*f));
    else
      ++refused;
  }
  // 2 running (or about to) + 3 waiting fit; the other 5 are refused at once.
  EXPECT_EQ(accepted.size(), 5u);
  EXPECT_EQ(refused, 5);
  release.set_value();
  int sum = 0;
  for (auto& f : accepted) sum += f.get();
  EXPECT_EQ(sum, 0 + 1 + 2 + 3 + 4);
  EXPECT_EQ(started, 5);
  EXPECT_EQ(pool.queued(), 0u);
  // Room again once the queue has drained.
  auto again = pool.try_submit([] { return 7; });
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get(), 7);
}

TEST(ServeWorkerPool, ExceptionsReachTheCallerAndTheWorkerSurvives) {
  WorkerPool pool(1, 1);
  auto failing = pool.try_submit([]() -> int { throw std::runtime_error("bad image"); });
  ASSERT_TRUE(failing);
  EXPECT_THROW(failing->get(), std::runtime_error);
  auto next = pool.try_submit([] { return 1; });
  ASSERT_TRUE(next);
  EXPECT_EQ(next->get(), 1);
}

TEST(ServeWorkerPool, DestructionFinishesQueuedTasks) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(1, 8);
    for (int i = 0; i < 8; ++i) ASSERT_TRUE(pool.try_submit([&] { ++done; }));
  }
  EXPECT_EQ(done, 8);
}
