// End-to-end: the `maskterial` binary given hostile files (issue 22): image bombs, FIFOs, symbolic link loops,
// the leftovers of a killed run. Each is refused within seconds with a message naming the file, and the rest of
// a batch is processed.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "maskterial/util/files.hpp"
#include "cli_test_helpers.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::cli_test;

namespace {
const std::string kExample = std::string(MASKTERIAL_SOURCE_DIR) + "/examples/images/graphene_1.jpg";

// A 1 kB JPEG whose header claims 30000 x 30000 pixels (2.7 GB decoded).
std::string jpeg_bomb() {
  std::vector<uchar> bytes;
  cv::imencode(".jpg", cv::Mat(8, 8, CV_8UC3, cv::Scalar(90, 80, 70)), bytes);
  std::string jpeg(bytes.begin(), bytes.end());
  const size_t sof = jpeg.find("\xff\xc0");
  for (size_t at : {sof + 5, sof + 7}) {
    jpeg[at] = static_cast<char>(30000 >> 8);
    jpeg[at + 1] = static_cast<char>(30000 & 0xff);
  }
  return jpeg;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}
}  // namespace

TEST(CliHostileInput, ImageBombsAreRefusedFromTheirHeaderAndTheLimitCanBeRaised) {
  const fs::path dir = fresh_dir("mt_cli_bomb");
  write_file_atomic((dir / "bomb.jpg").string(), jpeg_bomb());
  fs::copy_file(kExample, dir / "ok.jpg");
  const auto start = std::chrono::steady_clock::now();
  const CliRun r = run_cli("detect -q " + (dir / "bomb.jpg").string() + " " + (dir / "ok.jpg").string() +
                           " --segmenter none --out " + (dir / "out").string(), 120);
  EXPECT_LT(seconds_since(start), 30.0);  // it decoded for 4 min 37 s, at 22.9 GB
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("bomb.jpg: 30000x30000 pixels is more than the limit"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--max-image-megapixels"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "out" / "ok.json"));
  EXPECT_FALSE(fs::exists(dir / "out" / "bomb.json"));
  // The same check in the other commands that read images; a lower limit refuses the 2.3 MP example.
  const CliRun classify = run_cli("classify --out " + (dir / "map.png").string() + " " + (dir / "bomb.jpg").string());
  EXPECT_EQ(classify.code, 3) << classify.output;
  EXPECT_NE(classify.output.find("30000x30000"), std::string::npos) << classify.output;
  const CliRun low = run_cli("detect -q --max-image-megapixels 2 --segmenter none --out " + (dir / "out2").string() + " " +
                             (dir / "ok.jpg").string());
  EXPECT_EQ(low.code, 1) << low.output;
  EXPECT_NE(low.output.find("1920x1200 pixels is more than the limit of 2 megapixels"), std::string::npos) << low.output;
}

TEST(CliHostileInput, AFifoOrALinkLoopAmongTheInputsIsReportedAndTheRestProcessed) {
  const fs::path dir = fresh_dir("mt_cli_fifo");
  fs::copy_file(kExample, dir / "ok.jpg");
  ASSERT_EQ(::mkfifo((dir / "fifo.jpg").c_str(), 0644), 0);
  fs::create_symlink(dir / "loop.jpg", dir / "loop.jpg");
  const CliRun r = run_cli("detect -q " + (dir / "ok.jpg").string() + " " + (dir / "fifo.jpg").string() + " " +
                           (dir / "loop.jpg").string() + " --segmenter none --out " + (dir / "out").string(), 60);
  EXPECT_EQ(r.code, 1) << r.output;  // it waited for a writer forever (timeout: 124)
  EXPECT_NE(r.output.find("fifo.jpg: not a regular file"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("loop.jpg: a loop of symbolic links"), std::string::npos) << r.output;  // was "no such file"
  EXPECT_TRUE(fs::exists(dir / "out" / "ok.json"));
  EXPECT_TRUE(fs::exists(dir / "out" / "flakes.csv"));
}

TEST(CliHostileInput, ARerunRemovesTheUnfinishedFilesOfAKilledRun) {
  const fs::path dir = fresh_dir("mt_cli_stale");
  const fs::path out = dir / "out";
  // What kill -9 during write_file_atomic leaves, and files that only look similar.
  write_file_atomic((out / "ok.json.tmp-Ab3dE9").string(), "{");
  write_file_atomic((out / "overlays" / "ok.jpg.tmp-xY12zz").string(), "partial");
  write_file_atomic((out / "mine.tmp-notes").string(), "kept");
  write_file_atomic((out / "flakes.csv.tmp-1").string(), "kept");
  const CliRun r = run_cli("detect -q " + kExample + " --segmenter none --out " + out.string());
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(fs::exists(out / "ok.json.tmp-Ab3dE9"));
  EXPECT_FALSE(fs::exists(out / "overlays" / "ok.jpg.tmp-xY12zz"));
  EXPECT_TRUE(fs::exists(out / "mine.tmp-notes"));
  EXPECT_TRUE(fs::exists(out / "flakes.csv.tmp-1"));
}

TEST(CliHostileInput, AMissingGroundTruthIsUnreadableInputNotABadCommandLine) {
  const fs::path dir = fresh_dir("mt_cli_missing_gt");
  const CliRun r = run_cli("eval --gt " + (dir / "missing.json").string() + " --dt " + (dir / "dt.json").string());
  EXPECT_EQ(r.code, 3) << r.output;  // README "Exit codes": ground truth unreadable
  EXPECT_NE(r.output.find("missing.json: no such file"), std::string::npos) << r.output;
}
