// The limits hostile files meet in the library (issue 22): only regular files are read, images are sized from
// their header before decoding, polygons are bounded before they are rasterised, network architectures are
// bounded and checked against their weights before anything is allocated, and a killed run's temporaries go.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/classify/fcresnet.hpp"
#include "maskterial/classify/network_classifier.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"

namespace fs = std::filesystem;
using namespace maskterial;

namespace {

// A fresh folder under /tmp named after the test.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string encoded_jpeg(int width, int height) {
  std::vector<uchar> bytes;
  cv::imencode(".jpg", cv::Mat(8, 8, CV_8UC3, cv::Scalar(90, 80, 70)), bytes);
  std::string jpeg(bytes.begin(), bytes.end());
  const size_t sof = jpeg.find("\xff\xc0");
  jpeg[sof + 5] = static_cast<char>(height >> 8);
  jpeg[sof + 6] = static_cast<char>(height & 0xff);
  jpeg[sof + 7] = static_cast<char>(width >> 8);
  jpeg[sof + 8] = static_cast<char>(width & 0xff);
  return jpeg;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST(InputLimits, OnlyRegularFilesAreReadAndOpeningNeverBlocks) {
  const fs::path dir = scratch("mt_limits_files");
  ASSERT_EQ(::mkfifo((dir / "fifo.json").c_str(), 0644), 0);
  fs::create_symlink(dir / "loop.json", dir / "loop.json");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(error_of([&] { read_json((dir / "fifo.json").string()); }).find("fifo.json: not a regular file"), std::string::npos);
  EXPECT_LT(seconds_since(start), 5.0);
  EXPECT_NE(error_of([&] { read_file((dir / "loop.json").string()); }).find("loop.json: a loop of symbolic links"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_file(dir.string()); }).find("is a folder"), std::string::npos);
  EXPECT_NE(error_of([&] { read_file((dir / "none").string()); }).find("none: no such file"), std::string::npos);
  write_file_atomic((dir / "ok.txt").string(), std::string(200000, 'x'));
  EXPECT_EQ(read_file((dir / "ok.txt").string()), std::string(200000, 'x'));
  fs::remove_all(dir);
}

TEST(InputLimits, ImagesAreSizedFromTheirHeaderBeforeDecoding) {
  const std::string bomb = encoded_jpeg(30000, 30000);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(decode_image(bomb, "bomb.jpg"), ImageTooLarge);
  EXPECT_THROW(decode_image_as_stored(bomb, "bomb.jpg"), ImageTooLarge);
  EXPECT_LT(seconds_since(start), 1.0);
  EXPECT_NE(error_of([&] { decode_image(bomb, "bomb.jpg"); }).find("bomb.jpg: 30000x30000 pixels"), std::string::npos);
  // The limit is the caller's, or the process's (the command line's --max-image-megapixels).
  const std::string example = read_file(std::string(MASKTERIAL_SOURCE_DIR) + "/examples/images/graphene_1.jpg");
  EXPECT_EQ(decode_image(example, "a.jpg").size(), cv::Size(1920, 1200));
  EXPECT_THROW(decode_image(example, "a.jpg", 2'000'000), ImageTooLarge);
  set_max_image_pixels(2'000'000);
  EXPECT_THROW(decode_image(example, "a.jpg"), ImageTooLarge);
  set_max_image_pixels(0);
  EXPECT_EQ(max_image_pixels(), kDefaultMaxImagePixels);
  EXPECT_NE(error_of([] { decode_image("plain text", "notes.jpg"); }).find("notes.jpg: unsupported image format"),
            std::string::npos);
}

TEST(InputLimits, PolygonsAreBoundedBeforeTheirOutlineIsWalked) {
  const auto zigzag = [](size_t vertices) {
    std::vector<double> xy;
    for (size_t i = 0; i < vertices; ++i) {
      xy.push_back(i % 2 ? 1900 : 10);
      xy.push_back(static_cast<double>(i % 1190));
    }
    return xy;
  };
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(error_of([&] { coco::from_polygon(zigzag(1'000'000), 1200, 1920); }).find("1000000 vertices"), std::string::npos);
  EXPECT_NE(error_of([&] { coco::from_polygon(zigzag(90'000), 1200, 1920); }).find("outline too long"), std::string::npos);
  EXPECT_LT(seconds_since(start), 1.0);
  // Totals: what one budget allows, spent polygon by polygon.
  coco::PolygonBudget budget = coco::kUploadPolygonBudget;
  const std::vector<double> part = zigzag(5000);  // 47 M outline points
  EXPECT_NO_THROW(coco::from_polygon(part, 1200, 1920, budget));
  EXPECT_NO_THROW(coco::from_polygon(part, 1200, 1920, budget));
  EXPECT_NE(error_of([&] { coco::from_polygon(part, 1200, 1920, budget); }).find("too long to rasterise in all"),
            std::string::npos);
  // Fewer than 3 vertices enclose nothing: refused, not turned into an empty mask.
  for (const char* polygon : {"[[]]", "[[3, 4]]", "[[3, 4, 5, 6]]", "[]"})
    EXPECT_THROW(coco::segmentation_from_json(nlohmann::json::parse(polygon), 20, 20), Error) << polygon;
  EXPECT_EQ(coco::area(coco::segmentation_from_json(nlohmann::json::parse("[[1, 1, 10, 1, 10, 10]]"), 20, 20)) > 0, true);
}

TEST(InputLimits, NetworkArchitecturesAreBoundedAndMustMatchTheirWeights) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, int>>{
           {"embedding_dim", 8192}, {"depth", 100000}, {"num_classes", 256}, {"input_dim", 65}, {"n_power_iterations", 1000}}) {
    nlohmann::json arch = {{key, value}};
    EXPECT_NE(error_of([&] { FCResNetOptions::from_json(arch, "meta.json"); }).find(key + " " + std::to_string(value)),
              std::string::npos)
        << key;
  }
  // Within the bounds but not what the weights hold: refused before the network is built.
  const std::string fixture = std::string(MASKTERIAL_TEST_DATA) + "/amm_maskterial";
  for (const auto& [key, value] : std::vector<std::pair<std::string, int>>{{"embedding_dim", 1024}, {"depth", 64}, {"depth", 3}}) {
    const fs::path dir = scratch("mt_limits_arch");
    for (const char* f : {"model.pth", "loc.npy", "cov.npy"}) fs::copy_file(fixture + "/" + f, dir / f);
    nlohmann::json meta = read_json(fixture + "/meta_data.json");
    meta["train_config"]["model_arch"][key] = value;
    write_json_atomic((dir / "meta_data.json").string(), meta);
    const std::string error = error_of([&] { NetworkClassifier::load(dir.string()); });
    EXPECT_TRUE(error.find("shape the meta data") != std::string::npos || error.find("residual blocks") != std::string::npos)
        << key << ": " << error;
    fs::remove_all(dir);
  }
  EXPECT_NO_THROW(NetworkClassifier::load(fixture));
}

TEST(InputLimits, TheTemporariesOfAKilledWriterAreRemovedAndNothingElse) {
  const fs::path dir = scratch("mt_limits_stale");
  for (const char* name : {"a.json.tmp-Ab3dE9", "b.jpg.tmp-000000", "c.tmp-keep", "d.json.tmp-12345", "e.json", ".tmp-abcdef"})
    write_file_atomic((dir / name).string(), "x");
  fs::create_directories(dir / "f.tmp-ABCDEF");  // a folder (write_directory_atomic's): not this function's
  EXPECT_EQ(remove_stale_temporaries(dir.string()), 2u);
  for (const char* kept : {"c.tmp-keep", "d.json.tmp-12345", "e.json", ".tmp-abcdef", "f.tmp-ABCDEF"})
    EXPECT_TRUE(fs::exists(dir / kept)) << kept;
  EXPECT_FALSE(fs::exists(dir / "a.json.tmp-Ab3dE9"));
  fs::remove_all(dir);
}
