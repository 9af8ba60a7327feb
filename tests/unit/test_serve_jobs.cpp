// Training jobs over HTTP: a classifier trained from uploaded images and COCO annotations, one job at a time,
// detection served meanwhile, bad uploads refused up front, failures reported in the job status.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/segment/mask2former/segmenter.hpp"
#include "maskterial/util/files.hpp"
#include "segmenter_test_models.hpp"
#include "serve_test_client.hpp"
#include "serve_training_form.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::serve;
using namespace maskterial::serve::test;

namespace {
const std::string kImages = kGrapheneImages;
const std::string kMasks = kGrapheneMasks;
const std::string kExample = std::string(MASKTERIAL_SOURCE_DIR) + "/examples/images/graphene_1.jpg";

ServerOptions models_in(const ScratchDir& scratch) {
  ServerOptions options;
  options.models_dir = scratch.path();
  return options;
}

nlohmann::json wait_for(httplib::Client& client, const std::string& id) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  for (;;) {
    const auto job = body_json(client.Get("/api/jobs/" + id));
    if (job["state"] != "running" || std::chrono::steady_clock::now() > deadline) return job;
    EXPECT_GE(job["progress"].get<double>(), 0.0);
    EXPECT_LE(job["progress"].get<double>(), 1.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}
}  // namespace

TEST(ServeJobs, TrainsOneJobAtATimeWhileServingDetections) {
  REQUIRE_SHARED_DATA(fs::exists(kMasks), "shared data not found");
  const ScratchDir scratch("mt_serve_jobs");
  const ServerOptions options = models_in(scratch);
  LiveServer server(options);
  auto client = server.client();

  auto form = training_form("graphene-lab", 6);
  form.push_back(file_part("images", read_file(kExample), "unlisted.jpg"));
  const auto started = client.Post("/api/jobs", form);
  ASSERT_EQ(status_of(started), 202) << error_of(started);
  const auto job = body_json(started);
  EXPECT_EQ(job["state"], "running");
  EXPECT_EQ(job["images"], 30);
  EXPECT_EQ(job["warnings"], nlohmann::json({"unlisted.jpg: not listed in the annotations; left out"}));

  // A second job is refused while the first runs; detection goes on.
  const auto second = client.Post("/api/jobs", training_form("other", 1));
  EXPECT_EQ(status_of(second), 409) << error_of(second);
  EXPECT_NE(error_of(second).find("one job runs at a time"), std::string::npos);
  EXPECT_EQ(status_of(predict(client, read_file(kExample), "during.jpg", {text_part("segmentation_model", "none")})), 200);
  EXPECT_TRUE(body_json(client.Get("/api/health"))["training_job_running"].get<bool>());

  const auto done = wait_for(client, job["id"]);
  ASSERT_EQ(done["state"], "succeeded") << done.dump();
  EXPECT_EQ(done["progress"], 1.0);
  EXPECT_EQ(done["result"]["classes"], nlohmann::json({"1"}));
  EXPECT_EQ(body_json(client.Get("/api/jobs"))[0]["id"], job["id"]);

  // The trained model is installed and detects graphene.
  const auto model = body_json(client.Get("/api/models/classification/graphene-lab"));
  EXPECT_EQ(model["status"], "ready");
  EXPECT_TRUE(fs::exists(options.models_dir / "classification" / "graphene-lab" / "model.json"));
  // The flake score was re-fitted with the default segmentation model on the training images, as
  // train-classifier does, and is kept with the model.
  const fs::path score_file = options.models_dir / "classification" / "graphene-lab" / "flake_score.json";
  ASSERT_TRUE(fs::exists(score_file)) << done.dump();
  EXPECT_GT(read_json(score_file.string())["info"]["fitted_on"]["true_flakes"].get<int>(), 0);
  const auto r = predict(client, read_file(kImages + "/45ce9af7-5523-4aa2-9209-9639c3073766.jpg"), "g.jpg",
                         {text_part("classification_model", "graphene-lab")});
  ASSERT_EQ(status_of(r), 200) << error_of(r);
  EXPECT_GT(body_json(r)["flakes"].size(), 0u);

  // Same name again: refused unless overwrite is asked for.
  const auto again = client.Post("/api/jobs", training_form("graphene-lab", 1));
  EXPECT_EQ(status_of(again), 409);
  EXPECT_NE(error_of(again).find("exists"), std::string::npos);
}

// Overexposed uploads train like train-classifier: no image dropped, and the job says which channels each image
// and each class could not measure.
TEST(ServeJobs, OverexposedUploadsTrainAndSayWhichChannelsWereLeftOut) {
  REQUIRE_SHARED_DATA(fs::exists(kMasks), "shared data not found");
  const ScratchDir scratch("mt_serve_overexposed_job");
  LiveServer server(models_in(scratch));
  auto client = server.client();
  const auto started = client.Post("/api/jobs", training_form("bright-lab", 1, 1.6));
  ASSERT_EQ(status_of(started), 202) << error_of(started);
  const auto done = wait_for(client, body_json(started)["id"]);
  ASSERT_EQ(done["state"], "succeeded") << done.dump();
  const std::string warnings = done["warnings"].dump();
  EXPECT_NE(warnings.find("blue is saturated (255)"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("class 1: judged on green and red only"), std::string::npos) << warnings;
  EXPECT_EQ(warnings.find("skipping"), std::string::npos) << warnings;
}

TEST(ServeJobs, BadTrainingUploadsAreRefusedAndFailuresReported) {
  REQUIRE_SHARED_DATA(fs::exists(kMasks), "shared data not found");
  const ScratchDir scratch("mt_serve_bad_jobs");
  const ServerOptions options = models_in(scratch);
  LiveServer server(options);
  auto client = server.client();
  const auto refused = [&](httplib::MultipartFormDataItems form, int status, const std::string& words) {
    const auto r = client.Post("/api/jobs", form);
    EXPECT_EQ(status_of(r), status) << error_of(r);
    EXPECT_NE(error_of(r).find(words), std::string::npos) << error_of(r);
    EXPECT_EQ(status_of(client.Get("/api/health")), 200);
  };
  const std::string image = read_file(kExample);
  const std::string coco = R"({"images": [{"id": 1, "file_name": "dir/a.jpg", "width": 1920, "height": 1200}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 100,
                       "segmentation": [[0, 0, 10, 0, 10, 10, 0, 10]]}],
      "categories": [{"id": 1, "name": "1"}]})";
  refused({file_part("annotations", coco, "gt.json"), file_part("images", image, "a.jpg")}, 400, "'model'");
  refused({text_part("model", "../up"), file_part("annotations", coco, "gt.json"), file_part("images", image, "a.jpg")},
          400, "invalid model name");
  refused({text_part("model", "graphene-2dmatgmm"), file_part("annotations", coco, "gt.json"),
           file_part("images", image, "a.jpg")}, 403, "built in");
  refused({text_part("model", "m"), file_part("images", image, "a.jpg")}, 400, "annotations");
  refused({text_part("model", "m"), file_part("annotations", "{oops", "gt.json"), file_part("images", image, "a.jpg")},
          400, "annotations: not valid JSON");
  refused({text_part("model", "m"), file_part("annotations", R"({"images": 3})", "gt.json"),
           file_part("images", image, "a.jpg")}, 400, "annotations");
  refused({text_part("model", "m"), file_part("annotations", coco, "gt.json")}, 400, "no training images");
  refused({text_part("model", "m"), file_part("annotations", coco, "gt.json"), file_part("images", image, "b.jpg")},
          400, "none of the uploaded images");
  refused({text_part("model", "m"), file_part("annotations", coco, "gt.json"), file_part("images", image, "..")},
          400, "invalid file name");
  EXPECT_EQ(status_of(client.Post("/api/jobs", "{}", "application/json")), 415);
  refused({text_part("model", "m"), file_part("annotations", coco, "gt.json"), file_part("images", "not a jpeg", "a.jpg")},
          415, "a.jpg: unsupported image format");
  // Masks are rasterised at the declared size: a 2 KB file declaring 1048576 x 4095 pixels held a job for
  // 23 s and 1.75 GB; the declared size must be the image's own.
  std::string huge = coco;
  const std::string declared = R"("width": 1920, "height": 1200)";
  huge.replace(huge.find(declared), declared.size(), R"("width": 1048576, "height": 4095)");
  refused({text_part("model", "m"), file_part("annotations", huge, "gt.json"), file_part("images", image, "a.jpg")}, 400,
          "'a.jpg' is declared 1048576x4095 but the file is 1920x1200");

  // Accepted, but the only image is cut short: the job fails and says why; no model appears.
  const auto started = client.Post("/api/jobs", httplib::MultipartFormDataItems{
      text_part("model", "m"), file_part("annotations", coco, "gt.json"),
      file_part("images", image.substr(0, image.size() / 2), "a.jpg")});
  ASSERT_EQ(status_of(started), 202) << error_of(started);
  const auto done = wait_for(client, body_json(started)["id"]);
  EXPECT_EQ(done["state"], "failed");
  EXPECT_NE(done["error"].get<std::string>().find("a.jpg"), std::string::npos) << done.dump();
  EXPECT_EQ(done["error"].get<std::string>().find(options.models_dir.string()), std::string::npos) << done.dump();
  EXPECT_EQ(status_of(client.Get("/api/models/classification/m")), 404);
  EXPECT_EQ(status_of(client.Get("/api/jobs/999")), 404);
  // Nothing left behind in the models folder.
  for (const auto& e : fs::directory_iterator(options.models_dir / "classification")) ADD_FAILURE() << e.path();
}

// Running jobs are cancelled on request (DELETE /api/jobs/{id}) and when the server stops, within seconds.
TEST(ServeJobs, JobsAreCancelledOnRequestAndOnShutdown) {
  REQUIRE_SHARED_DATA(fs::exists(kMasks), "shared data not found");
  const ScratchDir scratch("mt_serve_cancel");
  const ServerOptions options = models_in(scratch);
  auto server = std::make_unique<LiveServer>(options);
  auto client = server->client();
  const auto start_amm = [&](const std::string& name) {
    auto form = training_form(name, 1);
    form.push_back(text_part("type", "amm"));  // 5,000 iterations: about a minute
    const auto r = client.Post("/api/jobs", form);
    EXPECT_EQ(status_of(r), 202) << error_of(r);
    return body_json(r)["id"].get<std::string>();
  };
  const std::string id = start_amm("cancelled");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto cancel = client.Delete("/api/jobs/" + id);
  ASSERT_EQ(status_of(cancel), 202) << error_of(cancel);
  EXPECT_EQ(body_json(cancel)["state"], "cancelling");
  const auto asked = std::chrono::steady_clock::now();
  nlohmann::json job;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    job = body_json(client.Get("/api/jobs/" + id));
  } while (job["state"] == "cancelling" && std::chrono::steady_clock::now() - asked < std::chrono::seconds(30));
  EXPECT_EQ(job["state"], "cancelled") << job.dump();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count(), 5.0);
  EXPECT_FALSE(body_json(client.Get("/api/health"))["training_job_running"].get<bool>());
  EXPECT_EQ(status_of(client.Get("/api/models/classification/cancelled")), 404);
  // A finished job is forgotten when deleted.
  EXPECT_EQ(status_of(client.Delete("/api/jobs/" + id)), 200);
  EXPECT_EQ(status_of(client.Get("/api/jobs/" + id)), 404);

  start_amm("at-shutdown");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const auto stopping = std::chrono::steady_clock::now();
  server.reset();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - stopping).count(), 5.0);
  for (const auto& e : fs::directory_iterator(options.models_dir / "classification")) ADD_FAILURE() << e.path();
}

// A segmentation model fine-tuned by a job (a few iterations of the tiny test model) is installed, used by
// predict, and reports its loss.
TEST(ServeJobs, FineTunesASegmentationModel) {
  REQUIRE_SHARED_DATA(fs::exists(kMasks), "shared data not found");
  const ScratchDir scratch("mt_serve_finetune");
  segment::Segmenter(segment::Mask2Former(test_models::tiny_segmenter_options())).save((scratch.path() / "tiny").string());
  ServerOptions options;
  options.models_dir = scratch.path() / "models";
  options.default_segmentation_model = scratch.path() / "tiny";
  LiveServer server(options);
  auto client = server.client();
  auto form = training_form("tuned", 1);
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"type", "segmenter"}, {"iterations", "4"}, {"batch_size", "1"}, {"crop_size", "128"}})
    form.push_back(text_part(field, value));
  const auto started = client.Post("/api/jobs", form);
  ASSERT_EQ(status_of(started), 202) << error_of(started);
  EXPECT_EQ(body_json(started)["kind"], "segmentation");
  EXPECT_EQ(body_json(started)["base"], "tiny");
  const auto done = wait_for(client, body_json(started)["id"]);
  ASSERT_EQ(done["state"], "succeeded") << done.dump();
  EXPECT_EQ(done["loss"].size(), 4u) << done.dump();
  EXPECT_GT(done["loss"][0][1].get<double>(), 0.0);
  EXPECT_EQ(done["result"]["kind"], "segmentation");
  const auto r = predict(client, read_file(kExample), "a.jpg", {text_part("segmentation_model", "tuned")});
  ASSERT_EQ(status_of(r), 200) << error_of(r);
  EXPECT_EQ(body_json(r)["models"]["segmentation"]["name"], "tuned");
  // Bad schedules and bases are refused up front.
  auto bad = training_form("x", 1);
  bad.push_back(text_part("type", "segmenter"));
  bad.push_back(text_part("base", "nope"));
  EXPECT_EQ(status_of(client.Post("/api/jobs", bad)), 404);
  bad.back() = text_part("iterations", "2.5");
  EXPECT_EQ(status_of(client.Post("/api/jobs", bad)), 400);

  // unlabelled: an uploaded image the annotations do not list is an unannotated scan of the microscope
  // (finetune --unlabelled), not left out.
  auto with_scans = training_form("tuned_scans", 1);
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"type", "segmenter"}, {"iterations", "2"}, {"batch_size", "1"}, {"crop_size", "128"}, {"unlabelled", "yes"}})
    with_scans.push_back(text_part(field, value));
  with_scans.push_back(file_part("images", read_file(kGrapheneImages + "/1fb9a0c6-da4a-4727-b9c0-473ddd7d0fd9.jpg"), "scan.jpg"));
  const auto scans = client.Post("/api/jobs", with_scans);
  ASSERT_EQ(status_of(scans), 202) << error_of(scans);
  EXPECT_EQ(body_json(scans)["unlabelled_images"], 1);
  const auto scans_done = wait_for(client, body_json(scans)["id"]);
  ASSERT_EQ(scans_done["state"], "succeeded") << scans_done.dump();
  EXPECT_TRUE(scans_done["warnings"].empty()) << scans_done.dump();
  const nlohmann::json tuned = read_json((options.models_dir / "segmentation" / "tuned_scans" / "model.json").string());
  EXPECT_EQ(tuned["training"]["data"]["type"], "mixed") << tuned["training"].dump();
  auto no_scans = training_form("y", 1);  // every image listed: nothing to use
  no_scans.push_back(text_part("type", "segmenter"));
  no_scans.push_back(text_part("unlabelled", "1"));
  EXPECT_EQ(status_of(client.Post("/api/jobs", no_scans)), 400);
  no_scans[no_scans.size() - 2] = text_part("type", "amm");  // a classifier job has no use for scans
  EXPECT_EQ(status_of(client.Post("/api/jobs", no_scans)), 400);
}
