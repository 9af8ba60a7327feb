// COCO datasets, results files and mask folders. Expected values come from COCO / COCO.loadRes
// (tests/data/coco/dataset_expected.json, written by scripts/make_coco_fixtures.py).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using maskterial::Error;
using nlohmann::json;
namespace coco = maskterial::coco;

namespace {

std::string fixture(const std::string& name) { return std::string(MASKTERIAL_TEST_DATA) + "/coco/" + name; }

std::array<double, 4> box(const json& j) { return {j[0], j[1], j[2], j[3]}; }

// A fresh folder per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("maskterial-coco-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write_png(const fs::path& path, const cv::Mat& image) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(cv::imwrite(path.string(), image)) << path;
}

// The message of the Error that f throws; fails the test if none is thrown.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no Error thrown";
  return "";
}

json small_dataset() { return maskterial::read_json(fixture("dataset.json")); }

}  // namespace

TEST(CocoDataset, ReadsEverySegmentationFormLikePycocotools) {
  const coco::Dataset d = coco::read_dataset(fixture("dataset.json"));
  ASSERT_EQ(d.images.size(), 2u);
  EXPECT_EQ(d.images[0].file_name, "a/one.jpg");
  EXPECT_EQ(d.images[0].height, 24);
  ASSERT_EQ(d.categories.size(), 2u);
  EXPECT_EQ(d.categories[0].supercategory, "material");
  EXPECT_EQ(d.categories[1].supercategory, "");
  const json expected = maskterial::read_json(fixture("dataset_expected.json"))["annotations"];
  ASSERT_EQ(d.annotations.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const coco::Annotation& a = d.annotations[i];
    SCOPED_TRACE("annotation " + std::to_string(a.id));
    EXPECT_EQ(a.id, expected[i]["id"].get<int64_t>());
    EXPECT_EQ(coco::to_string(a.segmentation), expected[i]["counts"].get<std::string>());
    if (i == 0) {  // area and bbox given in the file are kept as they are
      EXPECT_EQ(a.area, 150.5);
      EXPECT_EQ(a.bbox, (std::array<double, 4>{2.5, 2, 17.5, 13}));
    } else {
      EXPECT_EQ(a.area, expected[i]["rle_area"].get<double>());
      EXPECT_EQ(a.bbox, box(expected[i]["rle_bbox"]));
    }
  }
  EXPECT_EQ(d.annotations[1].iscrowd, 1);
  EXPECT_EQ(d.annotations[0].iscrowd, 0);
}

TEST(CocoDataset, LookupHelpers) {
  const coco::Dataset d = coco::read_dataset(fixture("dataset.json"));
  ASSERT_NE(d.find_image(9), nullptr);
  EXPECT_EQ(d.find_image(9)->file_name, "two.png");
  EXPECT_EQ(d.find_image(8), nullptr);
  EXPECT_EQ(d.find_image_by_file("a/one.jpg"), &d.images[0]);
  EXPECT_EQ(d.find_image_by_file("/data/scans/one.jpg"), &d.images[0]);
  EXPECT_EQ(d.find_image_by_file("three.jpg"), nullptr);
  const auto anns = d.annotations_of(7);
  ASSERT_EQ(anns.size(), 2u);
  EXPECT_EQ(anns[1]->id, 2);
}

TEST(CocoDataset, ReadsResultsLikeLoadRes) {
  const coco::Dataset gt = coco::read_dataset(fixture("dataset.json"));
  const auto results = coco::read_results(fixture("results.json"), gt);
  const json expected = maskterial::read_json(fixture("dataset_expected.json"))["results"];
  ASSERT_EQ(results.size(), expected.size());
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].id, expected[i]["id"].get<int64_t>());
    EXPECT_EQ(results[i].area, expected[i]["area"].get<double>());
    EXPECT_EQ(results[i].bbox, box(expected[i]["bbox"]));
    EXPECT_EQ(results[i].iscrowd, 0);
  }
  EXPECT_EQ(results[0].score, 0.875);
  EXPECT_EQ(results[1].image_id, 7);
}

TEST(CocoDataset, WriteThenReadRoundTrips) {
  TempDir dir;
  const coco::Dataset d = coco::read_dataset(fixture("dataset.json"));
  const std::string path = (dir / "out/instances.json").string();
  coco::write_dataset(path, d);
  const json written = maskterial::read_json(path);
  EXPECT_TRUE(written["annotations"][1]["segmentation"]["counts"].is_string());  // crowd RLE is compressed too
  EXPECT_EQ(written["annotations"][1]["segmentation"]["size"], json({24, 32}));
  const coco::Dataset back = coco::read_dataset(path);
  ASSERT_EQ(back.annotations.size(), d.annotations.size());
  for (size_t i = 0; i < d.annotations.size(); ++i) {
    EXPECT_EQ(back.annotations[i].segmentation, d.annotations[i].segmentation);
    EXPECT_EQ(back.annotations[i].area, d.annotations[i].area);
    EXPECT_EQ(back.annotations[i].bbox, d.annotations[i].bbox);
    EXPECT_EQ(back.annotations[i].iscrowd, d.annotations[i].iscrowd);
    EXPECT_EQ(back.annotations[i].category_id, d.annotations[i].category_id);
  }
  EXPECT_EQ(back.categories[0].name, "flake");
  EXPECT_EQ(back.images[1].file_name, "two.png");
}

TEST(CocoDataset, ResultsRoundTrip) {
  TempDir dir;
  const coco::Dataset gt = coco::read_dataset(fixture("dataset.json"));
  const auto results = coco::read_results(fixture("results.json"), gt);
  const std::string path = (dir / "results.json").string();
  coco::write_results(path, results);
  const json written = maskterial::read_json(path);
  for (const char* key : {"image_id", "category_id", "segmentation", "score", "bbox", "area"}) {
    EXPECT_TRUE(written[0].contains(key)) << key;
  }
  const auto back = coco::read_results(path, gt);
  ASSERT_EQ(back.size(), results.size());
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].segmentation, results[i].segmentation);
    EXPECT_EQ(back[i].score, results[i].score);
    EXPECT_EQ(back[i].bbox, results[i].bbox);
  }
  coco::Annotation unscored = results[0];
  unscored.score.reset();
  EXPECT_THROW(coco::results_to_json({unscored}), Error);
}

TEST(CocoDataset, ErrorsNameTheFileAndTheEntry) {
  const auto broken = [](const std::function<void(json&)>& edit) {
    json j = small_dataset();
    edit(j);
    return error_of([&] { coco::dataset_from_json(j, "set.json"); });
  };
  const auto expect_has = [](const std::string& message, const std::string& part) {
    EXPECT_NE(message.find(part), std::string::npos) << "'" << message << "' lacks '" << part << "'";
  };
  std::string m = broken([](json& j) { j["annotations"][2]["segmentation"]["counts"] = "0!"; });
  expect_has(m, "set.json: annotations[2].segmentation: ");
  expect_has(m, "invalid character");
  expect_has(broken([](json& j) { j["annotations"][3]["segmentation"][1] = {1, 2, 3}; }),
             "annotations[3].segmentation: polygon 1");
  expect_has(broken([](json& j) { j["annotations"][0]["image_id"] = 8; }), "annotations[0].image_id: 8 is not");
  expect_has(broken([](json& j) { j["annotations"][1]["id"] = 1; }), "annotations[1].id: duplicate");
  expect_has(broken([](json& j) { j["annotations"][1]["iscrowd"] = 2; }), "annotations[1].iscrowd");
  expect_has(broken([](json& j) { j["annotations"][0]["bbox"] = {1, 2}; }), "annotations[0].bbox");
  expect_has(broken([](json& j) { j["annotations"][0].erase("segmentation"); }), "segmentation: missing");
  expect_has(broken([](json& j) { j["images"][1]["width"] = -4; }), "images[1].width");
  expect_has(broken([](json& j) { j["images"][1]["id"] = "9"; }), "images[1].id: must be an integer");
  expect_has(broken([](json& j) { j["images"][1]["id"] = 7; }), "images[1].id: duplicate");
  expect_has(broken([](json& j) { j["images"][0] = 3; }), "images[0]: must be an object");
  expect_has(broken([](json& j) { j["categories"][0]["name"] = 1; }), "categories[0].name");
  expect_has(broken([](json& j) { j.erase("images"); }), "set.json: no \"images\"");
  expect_has(broken([](json& j) { j["annotations"] = 1; }), "\"annotations\" must be a list");
  expect_has(broken([](json& j) { j = json::array(); }), "must be a JSON object");
  expect_has(error_of([] { coco::read_dataset("/nonexistent/set.json"); }), "/nonexistent/set.json");
}

TEST(CocoDataset, ResultsErrorsNameTheEntry) {
  const coco::Dataset gt = coco::read_dataset(fixture("dataset.json"));
  json results = maskterial::read_json(fixture("results.json"));
  results[1]["image_id"] = 123;  // not silently dropped: a wrong image id is a broken results file
  EXPECT_NE(error_of([&] { coco::results_from_json(results, gt, "res.json"); }).find("res.json: [1].image_id: 123"),
            std::string::npos);
  results[1]["image_id"] = 7;
  results[1]["category_id"] = 99;  // unknown categories are kept: COCOeval decides what they count for
  EXPECT_EQ(coco::results_from_json(results, gt, "res.json")[1].category_id, 99);
  results[1].erase("score");
  EXPECT_NE(error_of([&] { coco::results_from_json(results, gt, "res.json"); }).find("[1].score: missing"),
            std::string::npos);
  results[1]["score"] = 0.5;
  results[1]["segmentation"]["size"] = {32, 24};
  EXPECT_NE(error_of([&] { coco::results_from_json(results, gt, "res.json"); }).find("[1].segmentation: RLE size"),
            std::string::npos);
  EXPECT_THROW(coco::results_from_json(json::object(), gt, "res.json"), Error);
}

TEST(CocoDataset, SemanticMaskFolderSplitsEachClassInto8ConnectedRegions) {
  TempDir dir;
  cv::Mat mask = cv::Mat::zeros(20, 30, CV_8UC1);
  mask(cv::Rect(1, 1, 4, 4)).setTo(2);
  mask(cv::Rect(5, 5, 3, 3)).setTo(2);     // touches the first square diagonally: same region
  mask(cv::Rect(20, 10, 5, 5)).setTo(2);   // a second region of class 2
  mask(cv::Rect(10, 12, 4, 3)).setTo(5);
  write_png(dir / "masks/b.png", mask);
  write_png(dir / "masks/a.png", cv::Mat::zeros(8, 9, CV_8UC1));
  write_png(dir / "images/a.tif", cv::Mat::zeros(8, 9, CV_8UC3));
  write_png(dir / "images/b.jpg", cv::Mat::zeros(20, 30, CV_8UC3));
  write_png(dir / "images/b.png", cv::Mat::zeros(20, 30, CV_8UC3));
  const coco::Dataset d = coco::read_semantic_mask_folder((dir / "images").string(), (dir / "masks").string());
  ASSERT_EQ(d.images.size(), 2u);
  EXPECT_EQ(d.images[0].file_name, "a.tif");
  EXPECT_EQ(d.images[1].file_name, "b.jpg");
  EXPECT_EQ(d.images[0].width, 9);
  EXPECT_EQ(d.images[1].height, 20);
  ASSERT_EQ(d.categories.size(), 2u);
  EXPECT_EQ(d.categories[0].id, 2);
  EXPECT_EQ(d.categories[1].name, "5");
  ASSERT_EQ(d.annotations.size(), 3u);
  EXPECT_EQ(d.annotations[0].category_id, 2);
  EXPECT_EQ(d.annotations[0].area, 25);
  EXPECT_EQ(d.annotations[0].bbox, (std::array<double, 4>{1, 1, 7, 7}));
  EXPECT_EQ(d.annotations[1].area, 25);
  EXPECT_EQ(d.annotations[2].category_id, 5);
  for (const coco::Annotation& a : d.annotations) {
    EXPECT_EQ(a.image_id, 2);
    EXPECT_EQ(cv::countNonZero(coco::decode(a.segmentation)), static_cast<int>(a.area));
  }
}

TEST(CocoDataset, MaskFolderErrorsNameTheFile) {
  TempDir dir;
  write_png(dir / "masks/lonely.png", cv::Mat::zeros(4, 4, CV_8UC1));
  fs::create_directories(dir / "images");
  const std::string images = (dir / "images").string(), masks = (dir / "masks").string();
  EXPECT_NE(error_of([&] { coco::read_instance_mask_folder(images, masks); }).find("lonely.png: no image lonely."),
            std::string::npos);
  write_png(dir / "images/lonely.jpeg", cv::Mat::zeros(4, 4, CV_8UC3));
  write_png(dir / "masks/rgb.png", cv::Mat::zeros(4, 4, CV_8UC3));
  write_png(dir / "images/rgb.png", cv::Mat::zeros(4, 4, CV_8UC3));
  EXPECT_NE(error_of([&] { coco::read_instance_mask_folder(images, masks); }).find("rgb.png: expected a single-channel"),
            std::string::npos);
  EXPECT_NE(error_of([&] { coco::read_instance_mask_folder(images, images + "/none"); }).find("no such folder"),
            std::string::npos);
}

TEST(CocoDataset, InstanceMaskFolderOneAnnotationPerId) {
  TempDir dir;
  cv::Mat mask = cv::Mat::zeros(10, 12, CV_16UC1);
  mask(cv::Rect(0, 0, 2, 2)).setTo(300);
  mask(cv::Rect(8, 8, 2, 2)).setTo(300);  // one instance may have several parts
  mask(cv::Rect(4, 4, 3, 3)).setTo(7);
  write_png(dir / "masks/x.png", mask);
  write_png(dir / "images/x.JPG", cv::Mat::zeros(10, 12, CV_8UC3));
  const coco::Dataset d = coco::read_instance_mask_folder((dir / "images").string(), (dir / "masks").string());
  ASSERT_EQ(d.categories.size(), 1u);
  EXPECT_EQ(d.categories[0].name, "flake");
  ASSERT_EQ(d.annotations.size(), 2u);
  EXPECT_EQ(d.annotations[0].area, 9);
  EXPECT_EQ(d.annotations[1].area, 8);
  EXPECT_EQ(d.annotations[1].bbox, (std::array<double, 4>{0, 0, 10, 10}));
  EXPECT_EQ(d.images[0].file_name, "x.JPG");
}

TEST(CocoDataset, ReadsTheDemoInstanceMasks) {
  const fs::path demo = fs::path(MASKTERIAL_SHARED_DATA) / "maskterial-demo";
  REQUIRE_SHARED_DATA(fs::is_directory(demo / "instance_masks"), "no demo data at " << demo);
  for (const auto& material : fs::directory_iterator(demo / "instance_masks")) {
    const std::string name = material.path().filename().string();
    const coco::Dataset d =
        coco::read_instance_mask_folder((demo / "images" / name).string(), material.path().string());
    ASSERT_FALSE(d.images.empty()) << name;
    for (const coco::ImageInfo& image : d.images) {
      const fs::path mask_path = material.path() / (fs::path(image.file_name).stem().string() + ".png");
      const cv::Mat mask = cv::imread(mask_path.string(), cv::IMREAD_UNCHANGED);
      std::set<int> ids;  // annotations come in ascending instance id order
      for (int y = 0; y < mask.rows; ++y) {
        for (int x = 0; x < mask.cols; ++x) {
          if (mask.at<uchar>(y, x)) ids.insert(mask.at<uchar>(y, x));
        }
      }
      const auto anns = d.annotations_of(image.id);
      ASSERT_EQ(anns.size(), ids.size()) << mask_path;
      cv::Mat rebuilt = cv::Mat::zeros(mask.size(), CV_8UC1);
      auto id = ids.begin();
      for (const coco::Annotation* a : anns) rebuilt.setTo(*id++, coco::decode(a->segmentation));
      EXPECT_EQ(cv::countNonZero(rebuilt != mask), 0) << mask_path;
    }
  }
}
