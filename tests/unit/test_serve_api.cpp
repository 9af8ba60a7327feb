// The REST API against a live server on loopback: good and bad inputs, model management, and that every bad
// request is answered with a clear 4xx while the server keeps serving.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/serve/model_store.hpp"
#include "maskterial/util/files.hpp"
#include "cli_test_helpers.hpp"
#include "serve_process.hpp"
#include "serve_test_client.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::serve;
using namespace maskterial::serve::test;

namespace {
const std::string kShared = MASKTERIAL_SHARED_DATA;
const std::string kExample = std::string(MASKTERIAL_SOURCE_DIR) + "/examples/images/graphene_1.jpg";
const std::string kWse2Gmm = kShared + "/gmm-params/WSe2_GMM.json";


class ServeApi : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<ScratchDir>("mt_serve_api");
    ServerOptions options;
    options.models_dir = scratch_->path();
    options.workers = 2;
    options.max_image_bytes = size_t{16} << 20;
    options.max_image_pixels = 3'000'000;  // the 1920x1200 examples fit
    options.max_model_bytes = size_t{1} << 20;
    server_ = std::make_unique<LiveServer>(options);
    models_dir_ = options.models_dir;
  }
  void TearDown() override {
    server_.reset();
    scratch_.reset();
  }

  // The server answers normally after whatever came before.
  void expect_still_serving() {
    auto client = server_->client();
    const auto health = client.Get("/api/health");
    ASSERT_EQ(status_of(health), 200);
    EXPECT_EQ(body_json(health)["status"], "ok");
  }

  void expect_refused(const httplib::Result& r, int status, const std::string& words) {
    ASSERT_EQ(status_of(r), status) << (r ? r->body : std::string("no response"));
    EXPECT_NE(error_of(r).find(words), std::string::npos) << error_of(r);
    expect_still_serving();
  }

  std::unique_ptr<ScratchDir> scratch_;
  std::unique_ptr<LiveServer> server_;
  fs::path models_dir_;
};
}  // namespace

TEST_F(ServeApi, HealthModelsOpenApiAndPage) {
  auto client = server_->client();
  expect_still_serving();
  const auto models = body_json(client.Get("/api/models"));
  ASSERT_EQ(models["classification"].size(), 1u);
  EXPECT_EQ(models["classification"][0]["name"], kBuiltinClassificationModel);
  EXPECT_EQ(models["classification"][0]["classes"], nlohmann::json({"1", "2", "3", "4"}));
  EXPECT_TRUE(models["classification"][0]["builtin"].get<bool>());
  // The shipped segmentation model `detect` uses by default, read-only.
  ASSERT_EQ(models["segmentation"].size(), 1u);
  EXPECT_TRUE(models["segmentation"][0]["builtin"].get<bool>());
  EXPECT_TRUE(models["segmentation"][0]["default"].get<bool>());
  EXPECT_EQ(models["segmentation"][0]["status"], "ready");
  EXPECT_EQ(models["postprocessing"].size(), 2u);

  const auto spec = client.Get("/api/openapi.json");
  ASSERT_EQ(status_of(spec), 200);
  const auto openapi = body_json(spec);
  EXPECT_EQ(openapi["openapi"], "3.0.3");
  for (const char* path : {"/api/health", "/api/models", "/api/models/{kind}/{name}", "/api/models/{kind}/{name}/files/{file}",
                           "/api/predict", "/api/jobs", "/api/jobs/{id}"})
    EXPECT_TRUE(openapi["paths"].contains(path)) << path;
  EXPECT_TRUE(openapi["paths"]["/api/jobs/{id}"].contains("delete"));
  EXPECT_TRUE(openapi["paths"]["/api/models/{kind}/{name}"].contains("put"));

  const auto page = client.Get("/");
  ASSERT_EQ(status_of(page), 200);
  EXPECT_NE(page->body.find("<title>maskterial</title>"), std::string::npos);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  for (const char* asset : {"/app.js", "/detect.js", "/rle.js", "/style.css"}) EXPECT_EQ(status_of(client.Get(asset)), 200) << asset;
  expect_refused(client.Get("/nope.html"), 404, "no such endpoint");
  expect_refused(client.Get("/api/nope"), 404, "no such endpoint");
}

// Acceptance: without model fields the API runs what `detect` runs without options (shipped segmentation model
// + built-in GMM) and finds the same flakes.
TEST_F(ServeApi, PredictWithoutModelFieldsFindsWhatDetectFindsWithoutOptions) {
  const std::string image = kShared + "/maskterial-demo/images/GrapheneH/45ce9af7-5523-4aa2-9209-9639c3073766.jpg";
  const std::string input = fs::exists(image) ? image : kExample;
  const ScratchDir scratch("mt_serve_default_out");
  ASSERT_EQ(maskterial::cli_test::run_cli("detect " + input + " -q --no-overlays --out " + scratch.path().string(), 120).code, 0);
  const auto expected = read_json((scratch.path() / (fs::path(input).stem().string() + ".json")).string());
  auto client = server_->client();
  const auto r = predict(client, read_file(input), fs::path(input).filename().string());
  ASSERT_EQ(status_of(r), 200) << error_of(r);
  const auto got = body_json(r);
  EXPECT_EQ(got["flakes"], expected["flakes"]);
  EXPECT_EQ(got["settings"], expected["settings"]);
  // Both record the same models, by content hash.
  EXPECT_EQ(got["models"]["segmentation"]["hash"], expected["models"]["segmentation"]["hash"]);
  EXPECT_EQ(got["models"]["classification"]["hash"], expected["models"]["classification"]["hash"]);
}

TEST_F(ServeApi, PredictReturnsTheFlakesDetectWrites) {
  const std::string demo = kShared + "/2dmatgmm-demo/images";
  std::vector<std::string> images = {kExample};
  if (fs::exists(demo)) images.push_back(demo + "/14f99233-cc7c-42ea-b7e3-316f5158e0f7.jpg");
  auto client = server_->client();
  // The 2DMatGMM rules with the paper's parameter file, uploaded as a model, against `detect --compat 2dmatgmm`.
  const bool have_gmm = fs::exists(kShared + "/gmm-params/Graphene_GMM.json");
  if (have_gmm)
    ASSERT_EQ(status_of(client.Put("/api/models/classification/graphene-paper",
                                   read_file(kShared + "/gmm-params/Graphene_GMM.json"), "application/json")), 201);
  for (const auto& image : images) {
    const ScratchDir scratch("mt_serve_detect_out");
    const fs::path& out = scratch.path();
    ASSERT_EQ(maskterial::cli_test::run_cli("detect " + image + " -q --segmenter none --no-overlays --out " + out.string(), 60).code, 0);
    const auto expected = read_json((out / (fs::path(image).stem().string() + ".json")).string());
    const auto r = predict(client, read_file(image), fs::path(image).filename().string(),
                           {text_part("segmentation_model", "none")});
    ASSERT_EQ(status_of(r), 200) << error_of(r);
    const auto got = body_json(r);
    ASSERT_GT(expected["flakes"].size(), 0u) << image;
    EXPECT_EQ(got["flakes"], expected["flakes"]) << image;
    EXPECT_EQ(got["background_bgr"], expected["background_bgr"]);
    EXPECT_EQ(got["image"], fs::path(image).filename().string());
    EXPECT_EQ(got["models"]["classification"]["name"], kBuiltinClassificationModel);
    EXPECT_TRUE(got["models"]["segmentation"].is_null());

    if (!have_gmm) continue;
    ASSERT_EQ(maskterial::cli_test::run_cli("detect " + image + " -q --no-overlays --gmm " + kShared +
                      "/gmm-params/Graphene_GMM.json --compat 2dmatgmm --std-threshold 4 --size-threshold 150 --out " +
                      out.string(), 60).code, 0);
    const auto expected_compat = read_json((out / (fs::path(image).stem().string() + ".json")).string());
    const auto compat = predict(client, read_file(image), "x.jpg",
                                {text_part("classification_model", "graphene-paper"), text_part("postprocessing", "2dmatgmm"),
                                 text_part("std_threshold", "4"), text_part("size_threshold", "150")});
    ASSERT_EQ(status_of(compat), 200) << error_of(compat);
    EXPECT_EQ(body_json(compat)["flakes"], expected_compat["flakes"]) << image;
  }
}

TEST_F(ServeApi, PredictOverlayIsThePngOfTheImage) {
  auto client = server_->client();
  // Empty fields (a form sent before the page knew the models) mean the defaults.
  const auto r = predict(client, read_file(kExample), "graphene_1.jpg",
                         {text_part("overlay", "1"), text_part("classification_model", ""), text_part("postprocessing", "")});
  ASSERT_EQ(status_of(r), 200) << error_of(r);
  const auto got = body_json(r);
  EXPECT_EQ(got["models"]["classification"]["name"], kBuiltinClassificationModel);
  EXPECT_EQ(got["models"]["postprocessing"], "maskterial");
  const std::string b64 = got["overlay_png_base64"];
  // Decode the base64 and the PNG: same size as the image.
  std::string bytes;
  int bits = 0, value = 0;
  for (char c : b64) {
    const auto at = std::string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/").find(c);
    if (at == std::string::npos) break;
    value = (value << 6) | static_cast<int>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((value >> bits) & 0xff);
    }
  }
  const cv::Mat overlay = cv::imdecode(std::vector<uchar>(bytes.begin(), bytes.end()), cv::IMREAD_COLOR);
  ASSERT_FALSE(overlay.empty());
  EXPECT_EQ(overlay.cols, got["width"].get<int>());
  EXPECT_EQ(overlay.rows, got["height"].get<int>());
}

TEST_F(ServeApi, BadPredictRequestsGetClearErrors) {
  auto client = server_->client();
  const std::string jpeg = read_file(kExample);
  expect_refused(client.Post("/api/predict", httplib::MultipartFormDataItems{text_part("classification_model", "x")}),
                 400, "field 'image'");
  expect_refused(predict(client, "", "empty.jpg"), 400, "empty.jpg: the uploaded image is empty");
  expect_refused(predict(client, "this is not an image", "notes.jpg"), 415, "notes.jpg");
  expect_refused(predict(client, jpeg.substr(0, jpeg.size() / 2), "cut.jpg"), 400, "cut.jpg");
  expect_refused(predict(client, jpeg, "a.jpg", {text_part("classification_model", "nope")}), 404, "'nope'");
  expect_refused(predict(client, jpeg, "a.jpg", {text_part("segmentation_model", "m2f")}), 404, "segmentation");
  expect_refused(predict(client, jpeg, "a.jpg", {text_part("std_threshold", "abc")}), 400, "std_threshold");
  expect_refused(predict(client, jpeg, "a.jpg", {text_part("min_score", "2")}), 400, "min_score");
  expect_refused(predict(client, jpeg, "a.jpg", {text_part("size_threshold", "nan")}), 400, "size_threshold");
  expect_refused(predict(client, jpeg, "a.jpg", {text_part("size_threshold", "0.5")}), 400, "outside [1, 1.07374e+09]");
  expect_refused(predict(client, jpeg, "a.jpg", {text_part("size_threshold", "20.5")}), 400, "whole number");
  expect_refused(predict(client, jpeg, "a.jpg", {text_part("postprocessing", "magic")}), 400, "postprocessing");
  expect_refused(client.Post("/api/predict", jpeg, "image/jpeg"), 415, "multipart/form-data");
  expect_refused(predict(client, std::string(size_t{17} << 20, 'x'), "huge.jpg"), 413, "at most 16 MiB");
  // Images larger than the pixel cap are refused from their header, in every format.
  for (const std::string ext : {".jpg", ".png", ".tif", ".bmp"}) {
    std::vector<uchar> bytes;
    cv::imencode(ext, cv::Mat(2000, 2000, CV_8UC3, cv::Scalar(90, 80, 70)), bytes);
    expect_refused(predict(client, std::string(bytes.begin(), bytes.end()), "big" + ext), 413,
                   "big" + ext + ": 2000x2000 pixels is more than the limit of 3 megapixels");
  }
  // A small PNG whose header claims 50000x50000 pixels (a decompression bomb) is never decoded.
  std::vector<uchar> bomb;
  cv::imencode(".png", cv::Mat(20, 20, CV_8UC3, cv::Scalar(1, 2, 3)), bomb);
  for (int i = 0; i < 2; ++i) {
    const uint32_t v = 50000;
    for (int k = 0; k < 4; ++k) bomb[16 + 4 * i + k] = static_cast<uchar>(v >> (24 - 8 * k));
  }
  // with the IHDR chunk's CRC recomputed, as a real bomb has it (libpng refuses a bad CRC)
  uint32_t crc = 0xffffffff;
  for (size_t i = 12; i < 29; ++i) {
    crc ^= bomb[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  crc ^= 0xffffffff;
  for (int k = 0; k < 4; ++k) bomb[29 + k] = static_cast<uchar>(crc >> (24 - 8 * k));
  expect_refused(predict(client, std::string(bomb.begin(), bomb.end()), "bomb.png"), 413, "50000x50000");
  // Gray and tiny images are refused by the image loader, naming the file.
  std::vector<uchar> png;
  cv::imencode(".png", cv::Mat(8, 8, CV_8UC3, cv::Scalar(1, 2, 3)), png);
  expect_refused(predict(client, std::string(png.begin(), png.end()), "tiny.png"), 400, "tiny.png");
}

TEST_F(ServeApi, UploadDescribeDownloadReplaceAndDeleteModels) {
  REQUIRE_SHARED_DATA(fs::exists(kWse2Gmm), "shared data not found");
  auto client = server_->client();
  const std::string gmm = read_file(kWse2Gmm);

  // A single 2DMatGMM file as JSON body.
  const auto put = client.Put("/api/models/classification/wse2", gmm, "application/json");
  ASSERT_EQ(status_of(put), 201) << error_of(put);
  EXPECT_EQ(body_json(put)["classes"], nlohmann::json({"1", "2", "3"}));
  EXPECT_TRUE(fs::exists(models_dir_ / "classification" / "wse2" / "gmm.json"));
  expect_refused(client.Put("/api/models/classification/wse2", gmm, "application/json"), 409, "exists");
  const auto replaced = client.Put("/api/models/classification/wse2?overwrite=1", gmm, "application/json");
  EXPECT_EQ(status_of(replaced), 200) << error_of(replaced);

  // A model directory as multipart, one field per file; downloaded files are what was uploaded.
  const std::string manifest = R"({"format": "maskterial", "kind": "classification", "type": "gmm",
                                   "files": {"parameters": "params.json"}, "description": "WSe2 70 nm"})";
  const auto multi = client.Put("/api/models/classification/wse2-dir",
                                httplib::MultipartFormDataItems{file_part("model.json", manifest, "model.json"),
                                                                file_part("params.json", gmm, "params.json")});
  ASSERT_EQ(status_of(multi), 201) << error_of(multi);
  const auto described = body_json(client.Get("/api/models/classification/wse2-dir"));
  EXPECT_EQ(described["description"], "WSe2 70 nm");
  EXPECT_EQ(described["files"].size(), 2u);
  EXPECT_EQ(client.Get("/api/models/classification/wse2-dir/files/params.json")->body, gmm);
  EXPECT_EQ(client.Get("/api/models/classification/wse2-dir/files/model.json")->body, manifest);
  const auto builtin_gmm = client.Get("/api/models/classification/graphene-2dmatgmm/files/gmm.json");
  ASSERT_EQ(status_of(builtin_gmm), 200);
  EXPECT_NE(builtin_gmm->body.find("covariance_matrix"), std::string::npos);
  expect_refused(client.Get("/api/models/classification/wse2-dir/files/other.json"), 404, "other.json");

  // The uploaded model predicts with its own classes.
  const auto r = predict(client, read_file(kExample), "a.jpg", {text_part("classification_model", "wse2-dir")});
  ASSERT_EQ(status_of(r), 200) << error_of(r);
  EXPECT_EQ(body_json(r)["models"]["classification"]["name"], "wse2-dir");
  EXPECT_EQ(body_json(client.Get("/api/models"))["classification"].size(), 3u);

  // Delete: gone from the list, the folder and predict.
  ASSERT_EQ(status_of(client.Delete("/api/models/classification/wse2-dir")), 200);
  EXPECT_FALSE(fs::exists(models_dir_ / "classification" / "wse2-dir"));
  expect_refused(client.Delete("/api/models/classification/wse2-dir"), 404, "wse2-dir");
  expect_refused(predict(client, read_file(kExample), "a.jpg", {text_part("classification_model", "wse2-dir")}), 404,
                 "wse2-dir");
  // The built-in model is read-only.
  expect_refused(client.Delete("/api/models/classification/graphene-2dmatgmm"), 403, "built in");
  expect_refused(client.Put("/api/models/classification/graphene-2dmatgmm?overwrite=1", gmm, "application/json"), 403,
                 "built in");
}

TEST_F(ServeApi, TraversalNamesAndCorruptUploadsAreRefused) {
  auto client = server_->client();
  const std::string gmm = fs::exists(kWse2Gmm) ? read_file(kWse2Gmm) : std::string("{}");
  for (const std::string& name : std::vector<std::string>{"..", "...", "../escape", "..%2F..%2Fescape", "%2E%2E", ".hidden", "a%2Fb", "a%00b",
                                 "-dash", "x..y", std::string(65, 'a'), "sp%20ace"}) {
    const auto r = client.Put("/api/models/classification/" + name, gmm, "application/json");
    EXPECT_TRUE(status_of(r) == 400 || status_of(r) == 404) << name << " -> " << status_of(r);
    EXPECT_FALSE(error_of(r).empty());
    const auto del = client.Delete("/api/models/classification/" + name);
    EXPECT_TRUE(status_of(del) == 400 || status_of(del) == 404) << name;
  }
  expect_refused(client.Put("/api/models/../classification/x", gmm, "application/json"), 404, "");
  expect_refused(client.Put("/api/models/weights/x", gmm, "application/json"), 404, "unknown model kind");
  expect_refused(client.Put("/api/models/segmentation/m2f", gmm, "application/json"), 422, "segmentation/m2f/model.json");
  // File names inside a model directory are checked the same way.
  expect_refused(client.Put("/api/models/classification/ok",
                            httplib::MultipartFormDataItems{file_part("../gmm.json", gmm, "gmm.json")}), 400, "file name");
  // Corrupt and wrong model files: 422 naming the file, nothing left behind.
  expect_refused(client.Put("/api/models/classification/bad", "{not json", "application/json"), 422, "bad/gmm.json");
  expect_refused(client.Put("/api/models/classification/bad", R"({"1": {"contrast": {"b": 0, "g": 0, "r": 0},
      "covariance_matrix": [[1, 0, 0], [0, -1, 0], [0, 0, 1]]}})", "application/json"), 422, "bad/gmm.json");
  expect_refused(client.Put("/api/models/classification/bad", httplib::MultipartFormDataItems{file_part(
                     "model.json", R"({"format": "maskterial", "type": "mystery"})", "model.json")}), 422, "mystery");
  expect_refused(client.Put("/api/models/classification/bad", httplib::MultipartFormDataItems{file_part(
                     "model.json", R"({"type": "gmm", "files": {"parameters": "../../etc/passwd"}})", "model.json")}), 422,
                 "parameters");
  expect_refused(client.Put("/api/models/classification/bad", "<gmm/>", "text/xml"), 415, "multipart");
  expect_refused(client.Put("/api/models/classification/big", std::string(size_t{2} << 20, ' '), "application/json"),
                 413, "at most 1 MiB");
  // Only the two kind folders (and the servers' lock file) exist: no model, staging or trash directory was left.
  std::vector<std::string> entries;
  for (const auto& e : fs::recursive_directory_iterator(models_dir_)) entries.push_back(e.path().lexically_relative(models_dir_).string());
  std::sort(entries.begin(), entries.end());
  EXPECT_EQ(entries, (std::vector<std::string>{".lock", "classification", "segmentation"}));
  EXPECT_FALSE(fs::exists(models_dir_.parent_path() / "escape"));
}

TEST(ServeModels, ModelsPersistAndBrokenOnesAreListedWithTheirError) {
  REQUIRE_SHARED_DATA(fs::exists(kWse2Gmm), "shared data not found");
  const ScratchDir scratch("mt_serve_persist");
  const fs::path& dir = scratch.path();
  ServerOptions options;
  options.models_dir = dir;
  {
    LiveServer server(options);
    auto client = server.client();
    ASSERT_EQ(status_of(client.Put("/api/models/classification/wse2", read_file(kWse2Gmm), "application/json")), 201);
  }
  fs::create_directories(dir / "classification" / "broken");
  write_file_atomic((dir / "classification" / "broken" / "gmm.json").string(), "[1, 2");
  fs::create_directories(dir / "classification" / ".staging-x-1-1");  // left by a crash
  LiveServer server(options);
  auto client = server.client();
  const auto models = body_json(client.Get("/api/models"))["classification"];
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[0]["name"], "broken");
  EXPECT_EQ(models[0]["status"], "error");
  EXPECT_NE(models[0]["error"].get<std::string>().find("classification/broken/gmm.json"), std::string::npos);
  EXPECT_EQ(models[2]["name"], "wse2");
  EXPECT_EQ(models[2]["status"], "ready");
  EXPECT_FALSE(fs::exists(dir / "classification" / ".staging-x-1-1"));
  const auto r = predict(client, read_file(kExample), "a.jpg", {text_part("classification_model", "broken")});
  EXPECT_EQ(status_of(r), 409);
  EXPECT_NE(error_of(r).find("failed to load"), std::string::npos);
  ASSERT_EQ(status_of(client.Delete("/api/models/classification/broken")), 200);
  EXPECT_FALSE(fs::exists(dir / "classification" / "broken"));
}

TEST(ServeCli, ServeCommandStartsAnswersAndStopsOnSigterm) {
  const ScratchDir scratch("mt_serve_cli");
  const fs::path& dir = scratch.path();
  EXPECT_EQ(maskterial::cli_test::run_cli("serve --help", 60).code, 0);
  EXPECT_EQ(maskterial::cli_test::run_cli("serve --port 70000", 60).code, 2);
  ServeProcess serve(dir.string());
  const int port = serve.port();
  ASSERT_GT(port, 0) << serve.output();
  httplib::Client client("127.0.0.1", port);
  const auto health = client.Get("/api/health");
  EXPECT_EQ(status_of(health), 200);
  EXPECT_TRUE(fs::is_directory(dir / "classification"));
  // A second server on the same port cannot start, and says so.
  const auto taken = maskterial::cli_test::run_cli("serve --port " + std::to_string(port) + " --models " + dir.string(), 60);
  EXPECT_EQ(taken.code, 3);
  EXPECT_NE(taken.output.find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos) << taken.output;
  const int status = serve.kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A MaskTerial AMM directory uploaded file by file serves predictions equal to `detect --classifier` on it.
TEST_F(ServeApi, UploadedMaskTerialAmmPredictsAsDetectDoes) {
  const std::string fixture = std::string(MASKTERIAL_TEST_DATA) + "/amm_maskterial";
  auto client = server_->client();
  httplib::MultipartFormDataItems files;
  for (const char* f : {"meta_data.json", "model.pth", "loc.npy", "cov.npy"})
    files.push_back(file_part(f, read_file(fixture + "/" + f), f));
  const auto put = client.Put("/api/models/classification/amm-fixture", files);
  ASSERT_EQ(status_of(put), 201) << error_of(put);
  EXPECT_EQ(body_json(put)["classes"], nlohmann::json({"1", "2", "3"}));

  const ScratchDir scratch("mt_serve_amm_out");
  ASSERT_EQ(maskterial::cli_test::run_cli("detect " + kExample + " -q --segmenter none --no-overlays --classifier " + fixture + " --out " +
                    scratch.path().string(), 60).code, 0);
  const auto expected = read_json((scratch.path() / (fs::path(kExample).stem().string() + ".json")).string());
  const auto r = predict(client, read_file(kExample), fs::path(kExample).filename().string(),
                         {text_part("classification_model", "amm-fixture"), text_part("segmentation_model", "none")});
  ASSERT_EQ(status_of(r), 200) << error_of(r);
  EXPECT_EQ(body_json(r)["flakes"], expected["flakes"]);

  // A torch checkpoint that is not one is refused with the file named, and nothing is installed.
  files[1] = file_part("model.pth", "not a checkpoint", "model.pth");
  expect_refused(client.Put("/api/models/classification/amm-broken", files), 422, "model.pth");
  expect_refused(client.Post("/api/jobs", httplib::MultipartFormDataItems{text_part("model", "x"),
                                                                         text_part("type", "svm")}),
                 400, "type");
}
