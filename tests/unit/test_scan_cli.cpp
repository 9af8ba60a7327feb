// `maskterial scan` and `export` end to end on shared images: a scan killed with SIGKILL mid-way and run again
// ends with the candidates of an uninterrupted scan, a second run does nothing, exports carry the fields the
// review needs, and --watch picks up an image written into the folder while it runs.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_test_helpers.hpp"
#include "maskterial/store/scan_store.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using maskterial::cli_test::fresh_dir;
using maskterial::cli_test::run_cli;

namespace {

const fs::path kGrapheneH = fs::path(MASKTERIAL_SHARED_DATA) / "maskterial-demo/images/GrapheneH";

// The first n shared GrapheneH images, copied into dir.
void copy_images(const fs::path& dir, size_t n) {
  std::set<fs::path> all(fs::directory_iterator(kGrapheneH), fs::directory_iterator{});
  fs::create_directories(dir);
  for (auto it = all.begin(); it != all.end() && n > 0; ++it, --n) fs::copy_file(*it, dir / it->filename());
}

// Starts the CLI with args in the background, its output into log; returns its pid.
pid_t spawn_cli(const std::vector<std::string>& args, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (std::freopen(log.c_str(), "w", stdout)) ::dup2(::fileno(stdout), STDERR_FILENO);
    maskterial::cli_test::exec_cli(args);
  }
  return pid;
}

int64_t images_done(const fs::path& db, const std::string& scan) {
  if (!fs::exists(db)) return 0;
  try {
    const auto store = maskterial::store::open_sqlite_scan_store(db.string());
    const auto info = store->find_scan(scan);
    return info ? store->counts(info->id).images_done : 0;
  } catch (const std::exception&) {
    return 0;  // being created by the scan
  }
}

// (image, bbox, class) of every exported candidate, what a resumed scan must reproduce.
std::multiset<std::tuple<std::string, std::string, std::string>> exported(const fs::path& db, const fs::path& out) {
  const auto run = run_cli("export --db " + db.string() + " --scan chip --format json --out " + out.string());
  EXPECT_EQ(run.code, 0) << run.output;
  std::multiset<std::tuple<std::string, std::string, std::string>> keys;
  std::ifstream in(out);
  const nlohmann::json json = nlohmann::json::parse(in, nullptr, false);
  if (!json.is_object()) return keys;
  for (const auto& c : json["candidates"])
    keys.emplace(c["image"].get<std::string>(), c["bbox"].dump(), c["class"].get<std::string>());
  return keys;
}

}  // namespace

// Slow (the default pipeline on 3 shared images, three times).
TEST(ScanCli, KilledScanResumesToTheSameCandidates) {
  REQUIRE_SHARED_DATA(fs::is_directory(kGrapheneH), "the shared GrapheneH images are missing: " + kGrapheneH.string());
  const fs::path dir = fresh_dir("mt_scan_cli");
  copy_images(dir / "chip", 3);
  const std::string common = (dir / "chip").string() + " --name chip -q -j 1 --db ";

  const auto whole = run_cli("scan " + common + (dir / "a.sqlite").string());
  ASSERT_EQ(whole.code, 0) << whole.output;
  const auto reference = exported(dir / "a.sqlite", dir / "a.json");
  ASSERT_FALSE(reference.empty());
  const auto again = run_cli("scan " + common + (dir / "a.sqlite").string());
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("0 image(s) to do"), std::string::npos) << again.output;
  EXPECT_EQ(exported(dir / "a.sqlite", dir / "a2.json"), reference);

  // SIGKILL as soon as the first image is committed, then run the same command again.
  const pid_t pid = spawn_cli({"scan", (dir / "chip").string(), "--name", "chip", "-q", "-j", "1", "--db",
                               (dir / "b.sqlite").string()},
                              dir / "killed.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (images_done(dir / "b.sqlite", "chip") < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_LT(images_done(dir / "b.sqlite", "chip"), 3) << "the scan finished before it could be killed";
  const auto resumed = run_cli("scan " + common + (dir / "b.sqlite").string());
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(exported(dir / "b.sqlite", dir / "b.json"), reference);

  // The JSON export has the review's fields; CSV and COCO are written too, --accepted keeps none yet.
  std::ifstream in(dir / "a.json");
  const nlohmann::json json = nlohmann::json::parse(in);
  for (const char* field : {"id", "image", "class", "score", "uncertainty", "area_px", "area_um2", "bbox", "center",
                            "verdict", "segmentation"})
    EXPECT_TRUE(json["candidates"][0].contains(field)) << field;
  for (const char* format : {"csv", "coco"}) {
    const fs::path out = dir / (std::string("a.") + format);
    EXPECT_EQ(run_cli("export --db " + (dir / "a.sqlite").string() + " --scan chip --format " + format + " --out " +
                      out.string()).code, 0);
    EXPECT_GT(fs::file_size(out), 100u) << format;
  }
  const auto none = run_cli("export --db " + (dir / "a.sqlite").string() + " --scan chip --format json --accepted --out " +
                            (dir / "acc.json").string());
  EXPECT_EQ(none.code, 0) << none.output;
  std::ifstream accepted(dir / "acc.json");
  EXPECT_TRUE(nlohmann::json::parse(accepted)["candidates"].empty());
  fs::remove_all(dir);
}

TEST(ScanCli, ExportNamesTheScansWhenOneIsMissing) {
  const fs::path dir = fresh_dir("mt_scan_cli_export");
  maskterial::store::open_sqlite_scan_store((dir / "s.sqlite").string())->open_scan("present", {}, {}, 1, nullptr);
  const auto run = run_cli("export --db " + (dir / "s.sqlite").string() + " --scan absent --format csv --out " +
                           (dir / "x.csv").string());
  EXPECT_NE(run.code, 0);
  EXPECT_NE(run.output.find("present"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(dir / "x.csv"));
  const auto missing = run_cli("export --db " + (dir / "none.sqlite").string() + " --scan a --format csv --out x.csv");
  EXPECT_NE(missing.code, 0);
  EXPECT_FALSE(fs::exists(dir / "none.sqlite"));
  fs::remove_all(dir);
}

// Slow (one image through the default pipeline): live scanning.
TEST(ScanCli, WatchProcessesImagesAsTheyAreWritten) {
  REQUIRE_SHARED_DATA(fs::is_directory(kGrapheneH), "the shared GrapheneH images are missing: " + kGrapheneH.string());
  const fs::path dir = fresh_dir("mt_scan_cli_watch");
  fs::create_directories(dir / "live");
  const fs::path db = dir / "w.sqlite";
  const pid_t pid = spawn_cli({"scan", (dir / "live").string(), "--name", "chip", "--watch", "-q", "--db", db.string()},
                              dir / "watch.log");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (!fs::exists(db) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  // As a microscope's software would: written under another name, then renamed into place.
  copy_images(dir / "staging", 1);
  const fs::path staged = *fs::directory_iterator(dir / "staging");
  fs::rename(staged, dir / "live" / staged.filename());
  deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (images_done(db, "chip") < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(images_done(db, "chip"), 1);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  fs::remove_all(dir);
}
