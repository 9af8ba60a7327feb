// The annotate page's API against a live server: region growing (synthetic flake, substrate, a shared thin
// flake, the dense model's guide), optics guides, annotation datasets (round trip of drawn masks through the
// official RLE, bad inputs), and training plus scoring from a stored dataset.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/coco/rle.hpp"
#include "maskterial/serve/model_store.hpp"
#include "maskterial/util/files.hpp"
#include "serve_test_client.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::serve;
using namespace maskterial::serve::test;

namespace {
const std::string kDemo = std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/";
const std::string kThinFlake = "GrapheneH/17294f8a-1df7-427f-b8ed-ab54e1571960";

double iou(const cv::Mat& a, const cv::Mat& b) {
  const double both = cv::countNonZero(a & b), either = cv::countNonZero(a | b);
  return either > 0 ? both / either : 0;
}

// A noisy substrate with one flake 12% darker in G (PNG bytes), and the flake's mask.
std::pair<std::string, cv::Mat> synthetic_image() {
  cv::Mat flake = cv::Mat::zeros(240, 320, CV_8U);
  cv::ellipse(flake, {160, 120}, {70, 45}, 20, 0, 360, 1, cv::FILLED);
  cv::Mat image(flake.size(), CV_8UC3, cv::Scalar(150, 140, 130)), noise(flake.size(), CV_16SC3);
  image.setTo(cv::Scalar(138, 123, 120), flake);
  cv::theRNG().state = 7;
  cv::randn(noise, 0, 3);
  cv::Mat noisy;
  image.convertTo(noisy, CV_16SC3);
  noisy += noise;
  noisy.convertTo(image, CV_8UC3);
  std::vector<uchar> png;
  cv::imencode(".png", image, png);
  return {std::string(png.begin(), png.end()), flake};
}

class ServeAnnotate : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<ScratchDir>("mt_serve_annotate");
    ServerOptions options;
    options.models_dir = scratch_->path() / "models";
    options.workers = 2;
    options.max_image_bytes = size_t{16} << 20;
    options.max_image_pixels = 3'000'000;
    server_ = std::make_unique<LiveServer>(options);
  }
  void TearDown() override {
    server_.reset();
    scratch_.reset();
  }

  httplib::Result region(const std::string& image, const std::string& name, httplib::MultipartFormDataItems fields) {
    auto client = server_->client();
    fields.push_back(file_part("image", image, name));
    return client.Post("/api/annotate/region", fields);
  }
  httplib::Result post_json(const std::string& path, const nlohmann::json& body) {
    auto client = server_->client();
    return client.Post(path.c_str(), body.dump(), "application/json");
  }
  httplib::Result put(const std::string& path, const std::string& body, const char* type = "application/json") {
    auto client = server_->client();
    return client.Put(path.c_str(), body, type);
  }
  void expect_refused(const httplib::Result& r, int status, const std::string& words) {
    ASSERT_EQ(status_of(r), status) << (r ? r->body : std::string("no response"));
    EXPECT_NE(error_of(r).find(words), std::string::npos) << error_of(r);
  }

  std::unique_ptr<ScratchDir> scratch_;
  std::unique_ptr<LiveServer> server_;
};
}  // namespace

TEST_F(ServeAnnotate, RegionOfSyntheticFlakeAndSubstrate) {
  const auto [png, flake] = synthetic_image();
  const auto r = region(png, "synthetic.png", {text_part("x", "160"), text_part("y", "120"), text_part("tolerance", "0.5")});
  ASSERT_EQ(status_of(r), 200) << error_of(r);
  const auto j = body_json(r);
  ASSERT_TRUE(j["found"].get<bool>()) << j.dump();
  const coco::Rle rle = coco::segmentation_from_json(j["segmentation"], 240, 320);
  EXPECT_GE(iou(coco::decode(rle), flake), 0.95);
  EXPECT_EQ(j["area"], coco::area(rle));
  const auto bbox = coco::to_bbox(rle);
  EXPECT_EQ(j["bbox"], nlohmann::json({bbox[0], bbox[1], bbox[2], bbox[3]}));
  EXPECT_NEAR(j["mean_contrast_bgr"][1].get<double>(), 123.0 / 140 - 1, 0.02);
  EXPECT_FALSE(j["guided"].get<bool>());

  const auto substrate = body_json(region(png, "synthetic.png", {text_part("x", "10"), text_part("y", "10")}));
  EXPECT_FALSE(substrate["found"].get<bool>());
  EXPECT_EQ(substrate["message"].get<std::string>().rfind("no flake here", 0), 0u) << substrate.dump();
  EXPECT_FALSE(substrate.contains("segmentation"));
}

TEST_F(ServeAnnotate, RegionRefusesBadInput) {
  const auto [png, flake] = synthetic_image();
  expect_refused(region(png, "a.png", {text_part("y", "5")}), 400, "'x'");
  expect_refused(region(png, "a.png", {text_part("x", "500"), text_part("y", "5")}), 400, "outside");
  expect_refused(region(png, "a.png", {text_part("x", "-1"), text_part("y", "5")}), 400, "'x'");
  expect_refused(region(png, "a.png", {text_part("x", "abc"), text_part("y", "5")}), 400, "not a number");
  expect_refused(region(png, "a.png", {text_part("x", "5"), text_part("y", "5"), text_part("tolerance", "0")}), 400, "tolerance");
  expect_refused(region(png, "a.png", {text_part("x", "5"), text_part("y", "5"), text_part("segmentation_model", "nope")}),
                 404, "nope");
  expect_refused(region("not an image", "a.png", {text_part("x", "5"), text_part("y", "5")}), 415, "a.png");
  auto client = server_->client();
  expect_refused(client.Post("/api/annotate/region", "x=1", "application/x-www-form-urlencoded"), 415, "multipart");
  expect_refused(client.Post("/api/annotate/region", httplib::MultipartFormDataItems{text_part("x", "1")}), 400, "'image'");
}

// Acceptance: on a thin flake of a shared image the region's IoU with the shared instance mask is >= 0.8, from
// the contrast alone and with the shipped dense model's flake probability as the guide.
TEST_F(ServeAnnotate, RegionOnSharedThinFlake) {
  const std::string mask_path = kDemo + "instance_masks/" + kThinFlake + ".png";
  REQUIRE_SHARED_DATA(fs::exists(mask_path), "shared data missing: " + mask_path);
  const cv::Mat truth = (cv::imread(mask_path, cv::IMREAD_GRAYSCALE) == 1) / 255;
  cv::Mat distance;
  cv::distanceTransform(truth, distance, cv::DIST_L2, 5);
  cv::Point deepest;
  cv::minMaxLoc(distance, nullptr, nullptr, nullptr, &deepest);
  const std::string jpeg = read_file(kDemo + "images/" + kThinFlake + ".jpg");
  for (const std::string guide : {"", "pretrained"}) {
    const auto r = region(jpeg, "thin.jpg", {text_part("x", std::to_string(deepest.x)), text_part("y", std::to_string(deepest.y)),
                                             text_part("segmentation_model", guide)});
    ASSERT_EQ(status_of(r), 200) << error_of(r);
    const auto j = body_json(r);
    ASSERT_TRUE(j["found"].get<bool>()) << j.dump();
    EXPECT_EQ(j["guided"].get<bool>(), !guide.empty());
    const double overlap = iou(coco::decode(coco::segmentation_from_json(j["segmentation"], truth.rows, truth.cols)), truth);
    EXPECT_GE(overlap, 0.8) << "guide: " << guide;
  }
}

TEST_F(ServeAnnotate, OpticsGuides) {
  auto client = server_->client();
  const auto r = client.Get("/api/optics/contrast?material=graphene&oxide_nm=90&layers=3");
  ASSERT_EQ(status_of(r), 200) << error_of(r);
  const auto j = body_json(r);
  ASSERT_EQ(j["layers"].size(), 3u);
  for (int n = 0; n < 3; ++n) EXPECT_LT(j["layers"][n]["contrast_bgr"][1].get<double>(), 0);  // graphene darkens G
  EXPECT_LT(j["layers"][2]["contrast_bgr"][1].get<double>(), j["layers"][0]["contrast_bgr"][1].get<double>());
  expect_refused(client.Get("/api/optics/contrast?material=unobtainium"), 400, "unobtainium");
  expect_refused(client.Get("/api/optics/contrast?layers=99"), 400, "layers");
}

// Masks drawn as the page draws them (any shape, holes included) come back from the export, decoded with the
// official RLE, pixel for pixel; area and bbox are the official ones.
TEST_F(ServeAnnotate, DatasetRoundTripAndBadInput) {
  auto client = server_->client();
  ASSERT_EQ(status_of(post_json("/api/datasets", {{"name", "wse2"}})), 201);
  expect_refused(post_json("/api/datasets", {{"name", "wse2"}}), 409, "exists");
  expect_refused(post_json("/api/datasets", {{"name", "../evil"}}), 400, "invalid");
  expect_refused(post_json("/api/datasets", {{"name", "x"}, {"categories", {{{"id", 0}}}}}), 400, "categories");
  expect_refused(client.Post("/api/datasets", "{not json", "application/json"), 400, "JSON");

  const auto [png, flake] = synthetic_image();
  const auto uploaded = put("/api/datasets/wse2/images/a.png", png, "image/png");
  ASSERT_EQ(status_of(uploaded), 200) << error_of(uploaded);
  const int64_t image_id = body_json(uploaded)["id"];
  EXPECT_EQ(body_json(uploaded)["width"], 320);
  expect_refused(put("/api/datasets/wse2/images/b.png", "garbage", "image/png"), 415, "b.png");
  expect_refused(put("/api/datasets/wse2/images/..png", png, "image/png"), 400, "invalid");
  expect_refused(put("/api/datasets/nope/images/a.png", png, "image/png"), 404, "nope");
  EXPECT_EQ(client.Get("/api/datasets/wse2/images/a.png")->body, png);

  cv::Mat ring = cv::Mat::zeros(240, 320, CV_8U), blob = cv::Mat::zeros(240, 320, CV_8U);
  cv::circle(ring, {60, 60}, 30, 1, cv::FILLED);
  cv::circle(ring, {60, 60}, 10, 0, cv::FILLED);
  cv::rectangle(blob, {200, 150}, {318, 239}, 1, cv::FILLED);
  const coco::Rle ring_rle = coco::encode(ring), blob_rle = coco::encode(blob);
  nlohmann::json uncompressed = {{"size", {240, 320}}, {"counts", blob_rle.counts}};  // lists are accepted too
  nlohmann::json coco = {
      {"images", {{{"id", image_id}, {"file_name", "a.png"}, {"width", 320}, {"height", 240}, {"split", "test"}}}},
      {"annotations", {{{"id", 1}, {"image_id", image_id}, {"category_id", 2}, {"segmentation", coco::to_json(ring_rle)}, {"iscrowd", 0}},
                       {{"id", 2}, {"image_id", image_id}, {"category_id", 1}, {"segmentation", uncompressed}, {"iscrowd", 0}}}},
      {"categories", {{{"id", 1}, {"name", "1"}}, {{"id", 2}, {"name", "2"}}}}};
  const auto updated = put("/api/datasets/wse2", coco.dump());
  ASSERT_EQ(status_of(updated), 200) << error_of(updated);

  const auto exported = client.Get("/api/datasets/wse2/export");
  ASSERT_EQ(status_of(exported), 200);
  EXPECT_NE(exported->get_header_value("Content-Disposition").find("wse2.coco.json"), std::string::npos);
  const auto back = body_json(exported);
  ASSERT_EQ(back["annotations"].size(), 2u);
  EXPECT_EQ(back["images"][0]["split"], "test");
  const std::vector<cv::Mat> drawn{ring, blob};
  for (int i = 0; i < 2; ++i) {
    const auto& a = back["annotations"][i];
    ASSERT_TRUE(a["segmentation"]["counts"].is_string());  // stored compressed, as pycocotools writes it
    const coco::Rle rle = coco::from_string(a["segmentation"]["counts"], 240, 320);
    EXPECT_EQ(cv::countNonZero(coco::decode(rle) != drawn[i]), 0);
    EXPECT_EQ(a["area"], cv::countNonZero(drawn[i]));
    const auto bbox = coco::to_bbox(rle);
    EXPECT_EQ(a["bbox"], nlohmann::json({bbox[0], bbox[1], bbox[2], bbox[3]}));
  }
  const auto listed = body_json(client.Get("/api/datasets"));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["annotations"], 2);
  EXPECT_EQ(listed[0]["test_images"], 1);

  // Bad updates change nothing.
  auto bad = coco;
  bad["images"][0]["file_name"] = "other.png";
  expect_refused(put("/api/datasets/wse2", bad.dump()), 400, "not been uploaded");
  bad = coco;
  bad["annotations"][0]["category_id"] = 7;
  expect_refused(put("/api/datasets/wse2", bad.dump()), 400, "no category");
  bad = coco;
  bad["annotations"][0]["segmentation"] = coco::to_json(coco::encode(cv::Mat::zeros(10, 10, CV_8U)));
  expect_refused(put("/api/datasets/wse2", bad.dump()), 400, "size");
  bad = coco;
  bad["images"][0]["width"] = 100;
  expect_refused(put("/api/datasets/wse2", bad.dump()), 400, "image size");
  bad = coco;
  bad["images"][0]["split"] = "validation";
  expect_refused(put("/api/datasets/wse2", bad.dump()), 400, "split");
  expect_refused(put("/api/datasets/wse2", "[1, 2"), 400, "JSON");
  expect_refused(put("/api/datasets/wse2", std::string(33 << 20, ' ')), 413, "at most");
  EXPECT_EQ(body_json(client.Get("/api/datasets/wse2")), back);
  // An update that does not list an image (an upload racing it) leaves that image and its flakes alone.
  const nlohmann::json unlisted = {{"images", nlohmann::json::array()}, {"annotations", nlohmann::json::array()}};
  ASSERT_EQ(status_of(put("/api/datasets/wse2", unlisted.dump())), 200);
  EXPECT_EQ(body_json(client.Get("/api/datasets/wse2")), back);

  // Uploading the same name at another size is refused.
  cv::Mat small(20, 20, CV_8UC3, cv::Scalar(1, 2, 3));
  std::vector<uchar> small_png;
  cv::imencode(".png", small, small_png);
  expect_refused(put("/api/datasets/wse2/images/a.png", std::string(small_png.begin(), small_png.end()), "image/png"), 409, "size");
  // Deleting an image takes its flakes and its file along.
  expect_refused(client.Delete("/api/datasets/wse2/images/other.png"), 404, "other.png");
  ASSERT_EQ(status_of(client.Delete("/api/datasets/wse2/images/a.png")), 200);
  const auto emptied = body_json(client.Get("/api/datasets/wse2"));
  EXPECT_TRUE(emptied["images"].empty());
  EXPECT_TRUE(emptied["annotations"].empty());
  expect_refused(client.Get("/api/datasets/wse2/images/a.png"), 404, "a.png");
  ASSERT_EQ(status_of(client.Delete("/api/datasets/wse2")), 200);
  expect_refused(client.Get("/api/datasets/wse2"), 404, "wse2");
  expect_refused(client.Delete("/api/datasets/wse2"), 404, "wse2");
  EXPECT_TRUE(body_json(client.Get("/api/datasets")).empty());
}

// Train a GMM from a stored dataset of shared images (their instance masks as class 1) and score it on the
// image marked as a test image.
TEST_F(ServeAnnotate, TrainsAndEvaluatesFromDataset) {
  const std::string masks = kDemo + "instance_masks/GrapheneH/";
  REQUIRE_SHARED_DATA(fs::exists(masks), "shared data missing: " + masks);
  ASSERT_EQ(status_of(post_json("/api/datasets", {{"name", "graphene"}})), 201);
  nlohmann::json coco = {{"images", nlohmann::json::array()}, {"annotations", nlohmann::json::array()}};
  int64_t annotation = 1;
  const std::vector<std::string> names{"17294f8a-1df7-427f-b8ed-ab54e1571960", "acb69ba8-d9d9-45ef-a6d9-a26b1ba2471c",
                                       "20ea4e7f-f2e3-40c8-829b-6e529b9dfc26"};
  for (size_t i = 0; i < names.size(); ++i) {
    const auto up = put("/api/datasets/graphene/images/" + names[i] + ".jpg",
                        read_file(kDemo + "images/GrapheneH/" + names[i] + ".jpg"), "image/jpeg");
    ASSERT_EQ(status_of(up), 200) << error_of(up);
    nlohmann::json image = body_json(up);
    image["split"] = i + 1 == names.size() ? "test" : "train";
    coco["images"].push_back(image);
    const cv::Mat instances = cv::imread(masks + names[i] + ".png", cv::IMREAD_GRAYSCALE);
    for (const auto& [id, rle] : coco::encode_labels(instances))
      coco["annotations"].push_back({{"id", annotation++}, {"image_id", image["id"]}, {"category_id", 1},
                                     {"segmentation", coco::to_json(rle)}, {"iscrowd", 0}});
  }
  ASSERT_EQ(status_of(put("/api/datasets/graphene", coco.dump())), 200);
  expect_refused(post_json("/api/datasets/graphene/train", {{"type", "gmm"}}), 400, "model");
  expect_refused(post_json("/api/datasets/graphene/train", {{"model", "g"}, {"type", "bogus"}}), 400, "type");
  expect_refused(post_json("/api/datasets/nope/train", {{"model", "g"}}), 404, "nope");

  const auto started = post_json("/api/datasets/graphene/train", {{"model", "graphene-gmm"}, {"type", "gmm"}});
  ASSERT_EQ(status_of(started), 202) << error_of(started);
  EXPECT_EQ(body_json(started)["images"], 2);  // the test image is held out
  auto client = server_->client();
  nlohmann::json job;
  for (int i = 0; i < 600; ++i) {
    job = body_json(client.Get(("/api/jobs/" + body_json(started)["id"].get<std::string>()).c_str()));
    if (job["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(job["state"], "succeeded") << job.dump();

  const auto scored = post_json("/api/datasets/graphene/evaluate", {{"classification_model", "graphene-gmm"}});
  ASSERT_EQ(status_of(scored), 200) << error_of(scored);
  const auto m = body_json(scored);
  std::printf("GMM from 2 shared GrapheneH images, scored on a third: %s\n", m.dump().c_str());
  EXPECT_EQ(m["images"], 1);
  EXPECT_EQ(m["ground_truth"], 3);
  ASSERT_EQ(m["per_class"].size(), 4u);  // the default classes 1-4; the annotations are all class 1
  const auto& c = m["per_class"][0];
  EXPECT_EQ(c["category_id"], 1);
  EXPECT_EQ(c["tp"].get<int>() + c["fn"].get<int>(), 3);
  for (const char* key : {"precision", "recall", "f1", "ap50"}) EXPECT_GE(c[key].get<double>(), 0) << key;
  EXPECT_GT(m["detections"].get<int>(), 0);
  expect_refused(post_json("/api/datasets/graphene/evaluate", {{"classification_model", "nope"}}), 404, "nope");
}

TEST_F(ServeAnnotate, RoutesAreDescribedAndThePageIsServed) {
  auto client = server_->client();
  const auto openapi = body_json(client.Get("/api/openapi.json"));
  for (const char* path : {"/api/annotate/region", "/api/annotate/background", "/api/optics/contrast", "/api/datasets",
                           "/api/datasets/{name}", "/api/datasets/{name}/images/{file}", "/api/datasets/{name}/export",
                           "/api/datasets/{name}/train", "/api/datasets/{name}/evaluate"})
    EXPECT_TRUE(openapi["paths"].contains(path)) << path;
  for (const char* method : {"get", "put", "delete"}) EXPECT_TRUE(openapi["paths"]["/api/datasets/{name}"].contains(method));
  const auto page = client.Get("/");
  EXPECT_NE(page->body.find("id=\"page-annotate\""), std::string::npos);
  EXPECT_NE(page->body.find("href=\"#annotate\""), std::string::npos);  // linked from the detect page
  EXPECT_EQ(status_of(client.Get("/annotate.js")), 200);
}
