// Concurrency: a bounded load test (32 clients at once; every answer is 200 or 503, the figures are printed),
// 64-client bursts against `maskterial serve` with its memory measured after each, and models replaced while
// requests that use them are in flight.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "maskterial/util/files.hpp"
#include "serve_process.hpp"
#include "serve_test_client.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::serve;
using namespace maskterial::serve::test;

namespace {
const std::string kExample = std::string(MASKTERIAL_SOURCE_DIR) + "/examples/images/graphene_1.jpg";

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p / 100.0 * values.size()))];
}

// 32 clients send 4 predictions each, all starting at once; prints throughput and latency percentiles.
// Returns the count of each status.
std::map<int, int> run_load(size_t queue) {
  constexpr int kClients = 32;
  constexpr int kRequestsPerClient = 4;
  const ScratchDir scratch("mt_serve_load");
  ServerOptions options;
  options.models_dir = scratch.path();
  options.workers = 2;  // the same pool on every machine, so the test sees the same answers
  options.queue = queue;
  LiveServer server(options);
  const std::string image = read_file(kExample);

  std::mutex mutex;
  std::map<int, int> statuses;
  std::vector<double> ok_ms, busy_ms;
  std::atomic<bool> go{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto client = server.client();
      while (!go) std::this_thread::yield();
      for (int i = 0; i < kRequestsPerClient; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const auto r = predict(client, image, "graphene_1.jpg", {text_part("segmentation_model", "none")});
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        std::lock_guard<std::mutex> lock(mutex);
        ++statuses[status_of(r)];
        (status_of(r) == 200 ? ok_ms : busy_ms).push_back(ms);
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  go = true;
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const auto count = [&](int status) { return statuses.count(status) ? statuses.at(status) : 0; };
  auto client = server.client();
  const auto health = body_json(client.Get("/api/health"));
  std::printf("load: %d clients x %d predictions of a 1920x1200 JPEG; %u cores, %d workers, queue %zu\n", kClients,
              kRequestsPerClient, std::thread::hardware_concurrency(), health["workers"]["threads"].get<int>(), queue);
  std::printf("  %d x 200, %d x 503 in %.2f s: %.1f predictions/s\n", count(200), count(503), seconds,
              count(200) / seconds);
  std::printf("  latency of 200 answers: p50 %.0f ms, p95 %.0f ms, p99 %.0f ms; of 503 answers: p50 %.1f ms\n",
              percentile(ok_ms, 50), percentile(ok_ms, 95), percentile(ok_ms, 99), percentile(busy_ms, 50));
  const std::string tag = "queue" + std::to_string(queue) + "_";
  ::testing::Test::RecordProperty(tag + "predictions_per_second", std::to_string(count(200) / seconds));
  ::testing::Test::RecordProperty(tag + "p50_ms", std::to_string(percentile(ok_ms, 50)));
  ::testing::Test::RecordProperty(tag + "p95_ms", std::to_string(percentile(ok_ms, 95)));
  ::testing::Test::RecordProperty(tag + "p99_ms", std::to_string(percentile(ok_ms, 99)));
  EXPECT_EQ(status_of(predict(client, image, "after.jpg", {text_part("segmentation_model", "none")})), 200);  // still serving after the burst
  return statuses;
}
}  // namespace

TEST(ServeLoad, ThirtyTwoConcurrentClientsGetAnswersOrBusy) {
  const auto statuses = run_load(8);  // a queue smaller than the burst: some clients are told to retry
  for (const auto& [status, count] : statuses) EXPECT_TRUE(status == 200 || status == 503) << count << " x " << status;
  EXPECT_GT(statuses.count(200), 0u);
  EXPECT_GT(statuses.count(503), 0u);
}

TEST(ServeLoad, AQueueThatHoldsTheBurstAnswersEveryRequest) {
  const auto statuses = run_load(32);
  EXPECT_EQ(statuses, (std::map<int, int>{{200, 128}}));
}

// 64 clients at once against the server process (2 workers, queue 16, the default segmentation model), three
// times: only 200 and 503 answers, and the server's RSS settles back within 10 % of its level after the
// first predictions (it grew with every burst while each connection thread had a malloc arena of its own).
TEST(ServeLoad, SixtyFourClientBurstsLeaveTheServersMemoryWhereItWas) {
  constexpr int kClients = 64;
  const ScratchDir scratch("mt_serve_rss");
  ServeProcess serve(scratch.path().string(), {"--workers", "2", "--queue", "16"});
  ASSERT_GT(serve.port(), 0) << serve.output();
  const std::string image = read_file(kExample);
  auto warm = serve.client();
  for (int i = 0; i < 2; ++i) ASSERT_EQ(status_of(predict(warm, image, "warm.jpg")), 200);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double base = serve.rss_mib();
  ASSERT_GT(base, 0);
  std::printf("rss: %.0f MiB after two predictions\n", base);
  for (int burst = 0; burst < 3; ++burst) {
    std::mutex mutex;
    std::map<int, int> statuses;
    std::atomic<bool> go{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&] {
        auto client = serve.client();
        while (!go) std::this_thread::yield();
        const int status = status_of(predict(client, image, "burst.jpg"));
        std::lock_guard<std::mutex> lock(mutex);
        ++statuses[status];
      });
    }
    go = true;
    for (auto& t : clients) t.join();
    std::this_thread::sleep_for(std::chrono::seconds(2));  // the last answers are sent, the pool goes idle
    const double rss = serve.rss_mib();
    std::printf("rss: %.0f MiB after burst %d (%+.1f %%): %d x 200, %d x 503\n", rss, burst + 1,
                100 * (rss - base) / base, statuses[200], statuses[503]);
    for (const auto& [status, count] : statuses) EXPECT_TRUE(status == 200 || status == 503) << count << " x " << status;
    EXPECT_GT(statuses[200], 0);
    EXPECT_LE(rss, 1.10 * base) << "burst " << burst + 1;
    ::testing::Test::RecordProperty("rss_growth_percent_burst" + std::to_string(burst + 1),
                                    std::to_string(100 * (rss - base) / base));
  }
}

TEST(ServeLoad, ReplacingAModelNeverBreaksRequestsInFlight) {
  const std::string shared = MASKTERIAL_SHARED_DATA;
  REQUIRE_SHARED_DATA(fs::exists(shared + "/gmm-params/graphene_90nm.json"), "shared data not found");
  const std::string first = read_file(shared + "/gmm-params/Graphene_GMM.json");
  const std::string second = read_file(shared + "/gmm-params/graphene_90nm.json");
  const ScratchDir scratch("mt_serve_swap");
  ServerOptions options;
  options.models_dir = scratch.path();
  options.queue = 64;
  LiveServer server(options);
  auto admin = server.client();
  ASSERT_EQ(status_of(admin.Put("/api/models/classification/swapped", first, "application/json")), 201);
  const std::string image = read_file(kExample);

  std::atomic<bool> done{false};
  std::mutex mutex;
  std::map<int, int> statuses;
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&] {
      auto client = server.client();
      while (!done) {
        const auto r = predict(client, image, "a.jpg", {text_part("classification_model", "swapped"), text_part("segmentation_model", "none")});
        std::lock_guard<std::mutex> lock(mutex);
        ++statuses[status_of(r)];
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    const auto r = admin.Put("/api/models/classification/swapped?overwrite=1", i % 2 ? first : second, "application/json");
    ASSERT_EQ(status_of(r), 200) << error_of(r);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  done = true;
  for (auto& t : clients) t.join();
  for (const auto& [status, count] : statuses) EXPECT_TRUE(status == 200 || status == 503) << count << " x " << status;
  EXPECT_GT(statuses[200], 0);
  // Nothing but the model itself is left in the folder.
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(options.models_dir / "classification"))
    entries.push_back(e.path().filename().string());
  EXPECT_EQ(entries, std::vector<std::string>{"swapped"});
}
