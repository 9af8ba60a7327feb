// kill -9 at the worst moments: a server during uploads and during a training job, a `detect` batch. What
// they wrote is whole whenever they die: every model directory under its name is complete and loads, every
// JSON parses, every CSV row is complete; what was in flight lies only in staging folders or temporaries,
// and a restarted server removes the staging folders.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <sstream>
#include <thread>

#include "cli_test_helpers.hpp"
#include "maskterial/util/files.hpp"
#include "serve_process.hpp"
#include "serve_test_client.hpp"
#include "serve_training_form.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::serve::test;

namespace {
const std::string kGmm = std::string(MASKTERIAL_SOURCE_DIR) + "/models/gmm/graphene_2dmatgmm.json";
const std::string kExample = std::string(MASKTERIAL_SOURCE_DIR) + "/examples/images/graphene_1.jpg";

bool hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }
// write_file_atomic's temporaries: "<name>.tmp-XXXXXX".
bool temporary(const fs::path& p) { return p.filename().string().find(".tmp-") != std::string::npos; }

// The models a server would list in a kind folder (not its staging and trash folders).
std::vector<fs::path> model_dirs(const fs::path& kind_dir) {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kind_dir))
    if (!hidden(e.path())) dirs.push_back(e.path());
  return dirs;
}

std::vector<std::string> hidden_entries(const fs::path& kind_dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kind_dir))
    if (hidden(e.path())) names.push_back(e.path().filename().string());
  return names;
}

// Every JSON file under `dir` (not temporaries) parses.
void expect_json_files_whole(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && !temporary(e.path()) && e.path().extension() == ".json")
      EXPECT_NO_THROW(read_json(e.path().string())) << e.path();
}

// After the kill, a fresh server on the folder: staging folders gone, every model listed and ready.
void expect_clean_restart(const fs::path& models, size_t at_least) {
  ServeProcess again(models.string());
  ASSERT_GT(again.port(), 0) << again.output();
  auto client = again.client();
  const auto listed = body_json(client.Get("/api/models"));
  size_t count = 0;
  for (const char* kind : {"classification", "segmentation"}) {
    for (const auto& m : listed[kind]) {
      if (m.value("builtin", false)) continue;
      EXPECT_EQ(m["status"], "ready") << m.dump();
      ++count;
    }
    EXPECT_EQ(hidden_entries(models / kind), std::vector<std::string>{}) << kind;
  }
  EXPECT_GE(count, at_least);
  again.kill(SIGTERM);
}

template <typename Predicate>
bool wait_until(Predicate done, std::chrono::seconds limit = std::chrono::seconds(120)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Fields of a CSV line, quotes respected (class and image names are quoted when they hold commas).
size_t csv_fields(const std::string& line) {
  size_t fields = 1;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) ++fields;
  }
  return fields;
}

void expect_csv_whole(const fs::path& path) {
  const std::string text = read_file(path.string());
  ASSERT_FALSE(text.empty()) << path;
  EXPECT_EQ(text.back(), '\n') << path;
  std::istringstream lines(text);
  std::string header, line;
  std::getline(lines, header);
  while (std::getline(lines, line)) EXPECT_EQ(csv_fields(line), csv_fields(header)) << path << ": " << line;
}
}  // namespace

// Uploads one after another (an 8 MiB file beside the GMM, so writing takes a while), the server killed at a
// random moment, three times.
TEST(CrashConsistency, KillDuringUploadsLeavesOnlyWholeModels) {
  const ScratchDir scratch("mt_crash_upload");
  const fs::path& models = scratch.path();
  const std::string gmm = read_file(kGmm);
  std::string notes(size_t{8} << 20, '\0');
  for (size_t i = 0; i < notes.size(); ++i) notes[i] = static_cast<char>('a' + i % 26);
  std::mt19937 random(13);
  size_t answered_total = 0;
  for (int round = 0; round < 3; ++round) {
    ServeProcess serve(models.string());
    ASSERT_GT(serve.port(), 0) << serve.output();
    std::atomic<size_t> answered{0};
    std::thread uploader([&] {
      auto client = serve.client();
      for (int i = 0;; ++i) {
        const std::string name = "r" + std::to_string(round) + "-m" + std::to_string(i);
        const httplib::MultipartFormDataItems files = {file_part("gmm.json", gmm, "gmm.json"),
                                                       file_part("notes.bin", notes, "notes.bin")};
        const auto r = client.Put("/api/models/classification/" + name, files);
        if (status_of(r) != 201) return;  // the server is gone
        ++answered;
      }
    });
    ASSERT_TRUE(wait_until([&] { return answered > 0; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(random)));
    serve.kill(SIGKILL);
    uploader.join();
    answered_total += answered;
    const auto dirs = model_dirs(models / "classification");
    EXPECT_GE(dirs.size(), answered_total);  // every answered upload is there
    for (const fs::path& dir : dirs) {
      EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2) << dir;
      EXPECT_EQ(read_file((dir / "gmm.json").string()), gmm) << dir;
      EXPECT_EQ(read_file((dir / "notes.bin").string()) == notes, true) << dir;
    }
  }
  expect_clean_restart(models, answered_total);
}

// A classifier training job killed while it trains, and another killed as it validates and installs its model.
TEST(CrashConsistency, KillDuringATrainingJobLeavesNoHalfWrittenModel) {
  REQUIRE_SHARED_DATA(fs::exists(kGrapheneMasks), "shared data not found");
  const ScratchDir scratch("mt_crash_job");
  const fs::path& models = scratch.path();
  for (const double kill_at_progress : {0.2, 0.98}) {
    ServeProcess serve(models.string());
    ASSERT_GT(serve.port(), 0) << serve.output();
    auto client = serve.client();
    const std::string name = "job-" + std::to_string(static_cast<int>(kill_at_progress * 100));
    auto form = training_form(name, 1);
    form.push_back(text_part("type", "amm"));
    form.push_back(text_part("iterations", "400"));
    const auto started = client.Post("/api/jobs", form);
    ASSERT_EQ(status_of(started), 202) << error_of(started);
    const std::string id = body_json(started)["id"].get<std::string>();
    ASSERT_TRUE(wait_until([&] {
      const auto job = body_json(client.Get("/api/jobs/" + id));
      return job["state"] != "running" || job["progress"].get<double>() >= kill_at_progress;
    }));
    serve.kill(SIGKILL);
    for (const fs::path& dir : model_dirs(models / "classification")) expect_json_files_whole(dir);
  }
  expect_clean_restart(models, 0);
}

// `detect` on 16 images killed after its first outputs, after all per-image JSON (as it writes the CSV and
// the COCO results), then run to its end over what the kills left.
TEST(CrashConsistency, KillDuringADetectBatchLeavesOnlyWholeOutputs) {
  const auto dir = maskterial::cli_test::fresh_dir("mt_crash_detect");
  const fs::path images = dir / "images", out = dir / "out";
  fs::create_directories(images);
  constexpr int kImages = 16;
  for (int i = 0; i < kImages; ++i) fs::copy_file(kExample, images / ("g" + std::to_string(i) + ".jpg"));
  const auto json_count = [&] {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(out, ec))
      if (e.path().extension() == ".json" && !temporary(e.path())) ++n;
    return n;
  };
  for (const size_t kill_after : {size_t{1}, size_t{kImages}}) {
    const pid_t pid = fork();
    if (pid == 0) {
      freopen("/dev/null", "w", stdout);
      freopen("/dev/null", "w", stderr);
      execl(MASKTERIAL_CLI, MASKTERIAL_CLI, "detect", images.c_str(), "--out", out.c_str(), "--segmenter", "none",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    wait_until([&] { return json_count() >= kill_after || waitpid(pid, nullptr, WNOHANG) == pid; });
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    expect_json_files_whole(out);
    if (fs::exists(out / "flakes.csv")) expect_csv_whole(out / "flakes.csv");
    for (const auto& e : fs::directory_iterator(out / "overlays")) {
      if (temporary(e.path())) continue;
      const std::string jpeg = read_file(e.path().string());  // a whole JPEG ends with its EOI marker
      EXPECT_TRUE(jpeg.size() > 2 && jpeg.substr(jpeg.size() - 2) == "\xff\xd9") << e.path();
    }
  }
  const auto done = maskterial::cli_test::run_cli("detect " + images.string() + " --out " + out.string() +
                                                  " --segmenter none -q");
  EXPECT_EQ(done.code, 0) << done.output;
  EXPECT_EQ(json_count(), size_t{kImages});
  expect_csv_whole(out / "flakes.csv");
  fs::remove_all(dir);
}
