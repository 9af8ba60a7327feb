// COCO RLE against golden output of the official COCO mask API (tests/data/coco/*.json, written by
// scripts/make_coco_fixtures.py), plus round trips on the demo instance masks and malformed input.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/coco/rle.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using maskterial::Error;
using nlohmann::json;
namespace coco = maskterial::coco;

namespace {

json golden(const std::string& name) { return maskterial::read_json(std::string(MASKTERIAL_TEST_DATA) + "/coco/" + name); }

cv::Mat mask_from_bits(int h, int w, const std::string& bits) {
  cv::Mat m(h, w, CV_8UC1);
  for (int i = 0; i < h * w; ++i) m.at<uchar>(i / w, i % w) = bits[static_cast<size_t>(i)] == '1';
  return m;
}

// Same size and same foreground (decode yields 0/1, OpenCV comparisons 0/255).
bool same_mask(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && cv::countNonZero((a != 0) != (b != 0)) == 0;
}

std::array<double, 4> box(const json& j) { return {j[0], j[1], j[2], j[3]}; }

std::vector<coco::Rle> rles(const json& strings, int h, int w) {
  std::vector<coco::Rle> out;
  for (const json& s : strings) out.push_back(coco::from_string(s.get<std::string>(), h, w));
  return out;
}

fs::path demo_masks_dir() { return fs::path(MASKTERIAL_SHARED_DATA) / "maskterial-demo" / "instance_masks"; }

}  // namespace

TEST(CocoRle, EncodeMatchesPycocotools) {
  for (const json& c : golden("rle_golden.json")["masks"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const int h = c["height"], w = c["width"];
    const cv::Mat mask = mask_from_bits(h, w, c["mask"]);
    const coco::Rle rle = coco::encode(mask);
    EXPECT_EQ(coco::to_string(rle), c["counts"].get<std::string>());
    EXPECT_EQ(coco::area(rle), c["area"].get<uint64_t>());
    EXPECT_EQ(coco::to_bbox(rle), box(c["bbox"]));
    EXPECT_EQ(coco::from_string(c["counts"], h, w), rle);
    EXPECT_TRUE(same_mask(coco::decode(rle), mask));
  }
}

TEST(CocoRle, EncodeTreatsAnyNonzeroAsForegroundAndHonoursRoi) {
  cv::Mat big = cv::Mat::zeros(10, 10, CV_8UC1);
  big(cv::Rect(3, 2, 2, 3)).setTo(200);
  const cv::Mat roi = big(cv::Rect(2, 1, 5, 6));
  EXPECT_EQ(coco::encode(roi), coco::encode(roi.clone() != 0));
  EXPECT_EQ(coco::area(coco::encode(roi)), 6u);
}

TEST(CocoRle, EncodeLabelsEqualsEncodePerLabel) {
  std::mt19937 gen(7);
  cv::Mat labels(23, 17, CV_16UC1);
  for (int y = 0; y < labels.rows; ++y) {
    for (int x = 0; x < labels.cols; ++x) labels.at<uint16_t>(y, x) = static_cast<uint16_t>(gen() % 4 * 1000);
  }
  const auto by_label = coco::encode_labels(labels);
  ASSERT_EQ(by_label.size(), 3u);
  for (const auto& [label, rle] : by_label) {
    EXPECT_EQ(rle, coco::encode(labels == static_cast<double>(label))) << "label " << label;
  }
}

TEST(CocoRle, FromPolygonMatchesPycocotools) {
  for (const json& c : golden("rle_golden.json")["polygons"]) {
    SCOPED_TRACE(c["polygons"].dump());
    const int h = c["height"], w = c["width"];
    for (size_t i = 0; i < c["polygons"].size(); ++i) {
      const coco::Rle part = coco::from_polygon(c["polygons"][i].get<std::vector<double>>(), h, w);
      EXPECT_EQ(coco::to_string(part), c["parts"][i].get<std::string>());
    }
    EXPECT_EQ(coco::to_string(coco::segmentation_from_json(c["polygons"], h, w)), c["counts"].get<std::string>());
  }
}

// Found by fuzz_coco (UBSan: 0/0 cast to int on the edge between two equal vertices).
TEST(CocoRle, RepeatedPolygonVerticesChangeNothing) {
  const coco::Rle square = coco::from_polygon({1, 1, 10, 1, 10, 12, 1, 12}, 20, 20);
  EXPECT_EQ(coco::from_polygon({1, 1, 10, 1, 10, 1, 10, 12, 1, 12, 1, 12}, 20, 20), square);
  EXPECT_GT(coco::area(square), 0u);
  EXPECT_EQ(coco::area(coco::from_polygon({1, 1, 1, 1, 1, 1}, 20, 20)), 0u);
}

TEST(CocoRle, FromBboxMatchesPycocotools) {
  for (const json& c : golden("rle_golden.json")["boxes"]) {
    SCOPED_TRACE(c["bbox"].dump());
    EXPECT_EQ(coco::to_string(coco::from_bbox(box(c["bbox"]), c["height"], c["width"])), c["counts"].get<std::string>());
  }
}

TEST(CocoRle, MergeMatchesPycocotools) {
  for (const json& c : golden("rle_golden.json")["merges"]) {
    SCOPED_TRACE(c["inputs"].dump() + (c["intersect"].get<bool>() ? " intersect" : " union"));
    const coco::Rle merged = coco::merge(rles(c["inputs"], c["height"], c["width"]), c["intersect"]);
    EXPECT_EQ(coco::to_string(merged), c["counts"].get<std::string>());
  }
}

TEST(CocoRle, IouMatchesPycocotoolsWithAndWithoutCrowd) {
  for (const json& c : golden("rle_golden.json")["ious"]) {
    const int h = c["height"], w = c["width"];
    SCOPED_TRACE(std::to_string(h) + "x" + std::to_string(w));
    const auto matrix = coco::iou(rles(c["dt"], h, w), rles(c["gt"], h, w), c["iscrowd"].get<std::vector<uint8_t>>());
    EXPECT_EQ(matrix, c["iou"].get<std::vector<std::vector<double>>>());
  }
}

TEST(CocoRle, UncompressedRleMatchesPycocotools) {
  for (const json& c : golden("rle_golden.json")["uncompressed"]) {
    SCOPED_TRACE(c["counts_list"].dump());
    const int h = c["height"], w = c["width"];
    const coco::Rle rle = coco::segmentation_from_json({{"size", {h, w}}, {"counts", c["counts_list"]}}, h, w);
    EXPECT_EQ(coco::to_string(rle), c["counts"].get<std::string>());
    EXPECT_EQ(coco::to_bbox(rle), box(c["bbox"]));
    EXPECT_EQ(coco::area(rle), c["area"].get<uint64_t>());
    EXPECT_EQ(coco::to_json(rle), (json{{"size", {h, w}}, {"counts", c["counts"]}}));
  }
}

TEST(CocoRle, EdgeCases) {
  const coco::Rle none = coco::encode(cv::Mat(0, 0, CV_8UC1));
  EXPECT_EQ(none.counts, std::vector<uint32_t>{0});
  EXPECT_EQ(coco::to_bbox(none), (std::array<double, 4>{0, 0, 0, 0}));
  EXPECT_EQ(coco::merge({}), coco::Rle{});
  EXPECT_TRUE(coco::iou({}, {none}, {}).empty());
  const coco::Rle a = coco::encode(cv::Mat::ones(3, 4, CV_8UC1));
  EXPECT_EQ(coco::merge({a}), a);
  EXPECT_THROW(coco::merge({a, coco::encode(cv::Mat::ones(4, 3, CV_8UC1))}), Error);
  EXPECT_THROW(coco::iou({a}, {coco::encode(cv::Mat::ones(4, 3, CV_8UC1))}, {}), Error);
  EXPECT_THROW(coco::iou({a}, {a}, {1, 0}), Error);
  EXPECT_EQ(coco::iou({a}, {a}, {1}), (std::vector<std::vector<double>>{{1.0}}));
  EXPECT_THROW(coco::encode(cv::Mat::ones(3, 4, CV_8UC3)), Error);
  EXPECT_THROW(coco::decode(coco::Rle{3, 4, {5, 5}}), Error);
}

// Found by fuzz_coco (UBSan: an offset applied to the null data pointer of a 0-row mask).
TEST(CocoRle, EmptyMasksOfOneZeroSideEncodeAsOneEmptyRun) {
  for (const auto& [rows, cols] : {std::pair{0, 10}, std::pair{10, 0}}) {
    const coco::Rle rle = coco::encode(cv::Mat(rows, cols, CV_8UC1));
    EXPECT_EQ(rle.counts, std::vector<uint32_t>{0});
    EXPECT_EQ(coco::area(rle), 0u);
    EXPECT_EQ(coco::from_string(coco::to_string(rle), rows, cols), rle);
  }
}

TEST(CocoRle, FromStringRejectsMalformedInput) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"0!", "invalid character"},        {"0 1", "invalid character"},
      {"p", "invalid character"},         {"P", "truncated"},
      {"PPPPPPPP0", "too long"},          {"0", "covers 0 of"},
      {"o0", "more than"},                {"ooooo0", "more than"},
      {"411N", "out of range"},  // the delta of the fourth run drives it negative
  };
  for (const auto& [counts, reason] : bad) {
    try {
      coco::from_string(counts, 3, 4);
      ADD_FAILURE() << "accepted '" << counts << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << counts << ": " << e.what();
    }
  }
  EXPECT_THROW(coco::from_string("0", -1, 4), Error);
  EXPECT_THROW(coco::from_string("0", 1 << 20, 1 << 20), Error);
  EXPECT_EQ(coco::from_string("", 0, 5).counts, std::vector<uint32_t>{});
}

TEST(CocoRle, SegmentationFromJsonRejectsMalformedInput) {
  const std::vector<json> bad = {
      json(5),
      json("abc"),
      json::object(),
      json::array(),
      json::parse(R"({"size": [3, 4]})"),
      json::parse(R"({"size": [3], "counts": "<"})"),
      json::parse(R"({"size": [4, 3], "counts": "<"})"),
      json::parse(R"({"size": [3, 4], "counts": 12})"),
      json::parse(R"({"size": ["3", 4], "counts": "<"})"),
      json::parse(R"({"size": [3, 4], "counts": [0, -12]})"),
      json::parse(R"({"size": [3, 4], "counts": [0, 1.5, 10.5]})"),
      json::parse(R"({"size": [3, 4], "counts": [0, 13]})"),
      json::parse(R"({"size": [3, 4], "counts": [4294967295, 4294967295]})"),
      json::parse(R"({"size": [3, 4], "counts": [0, "12"]})"),
      json::parse(R"([[1, 1, 2, 2, 3]])"),
      json::parse(R"([[1, 1, 2, "2", 3, 3]])"),
      json::parse(R"([5])"),
      json::parse(R"([[1, 1, 2, 2, 1e300, 3]])"),
  };
  for (const json& seg : bad) {
    EXPECT_THROW(coco::segmentation_from_json(seg, 3, 4), Error) << seg.dump();
  }
  EXPECT_EQ(coco::area(coco::segmentation_from_json(json::parse(R"({"size": [3, 4], "counts": [0, 12.0]})"), 3, 4)),
            12u);
}

TEST(CocoRle, RealInstanceMasksRoundTrip) {
  REQUIRE_SHARED_DATA(fs::is_directory(demo_masks_dir()), "no demo data at " << demo_masks_dir());
  int checked = 0;
  for (const auto& material : fs::directory_iterator(demo_masks_dir())) {
    for (const auto& file : fs::directory_iterator(material.path())) {
      const cv::Mat mask = cv::imread(file.path().string(), cv::IMREAD_UNCHANGED);
      ASSERT_FALSE(mask.empty()) << file.path();
      const coco::Rle all = coco::encode(mask);
      EXPECT_TRUE(same_mask(coco::decode(all), mask != 0)) << file.path();
      EXPECT_EQ(coco::from_string(coco::to_string(all), all.height, all.width), all);
      for (const auto& [label, rle] : coco::encode_labels(mask)) {
        EXPECT_TRUE(same_mask(coco::decode(rle), mask == static_cast<double>(label))) << file.path() << " instance " << label;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(CocoRle, RealInstanceMasksMatchPycocotools) {
  REQUIRE_SHARED_DATA(fs::is_directory(demo_masks_dir()), "no demo data at " << demo_masks_dir());
  for (const json& c : golden("real_masks.json")) {
    const std::string path = (demo_masks_dir() / c["file"].get<std::string>()).string();
    SCOPED_TRACE(path);
    const cv::Mat mask = cv::imread(path, cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(mask.empty());
    EXPECT_EQ(coco::to_string(coco::encode(mask)), c["foreground"].get<std::string>());
    const auto by_label = coco::encode_labels(mask);
    ASSERT_EQ(by_label.size(), c["instances"].size());
    for (const auto& [label, rle] : by_label) {
      EXPECT_EQ(coco::to_string(rle), c["instances"][std::to_string(label)].get<std::string>()) << label;
    }
  }
}

TEST(CocoRle, FullHdEncodeDecodeAndIouAreFast) {
  cv::Mat mask = cv::Mat::zeros(1200, 1920, CV_8UC1);
  cv::circle(mask, {900, 600}, 400, 1, -1);
  cv::Mat other = cv::Mat::zeros(1200, 1920, CV_8UC1);
  cv::circle(other, {1000, 650}, 380, 1, -1);
  const auto start = std::chrono::steady_clock::now();
  const coco::Rle a = coco::encode(mask), b = coco::encode(other);
  const cv::Mat back = coco::decode(a);
  const double value = coco::iou({a}, {b}, {0})[0][0];
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(same_mask(back, mask));
  EXPECT_GT(value, 0.5);
  EXPECT_LT(ms, 200.0) << "a single-pass encode/decode should take a few ms";  // loose: shared CI machines
}
