// End-to-end: the `maskterial` binary as a user runs it.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/coco/rle.hpp"
#include "maskterial/segment/mask2former/segmenter.hpp"
#include "maskterial/util/files.hpp"
#include "cli_test_helpers.hpp"
#include "segmenter_test_models.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::cli_test;

namespace {
const std::string kShared = MASKTERIAL_SHARED_DATA;


bool no_temp_files(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) return false;
  return true;
}
}  // namespace

TEST(Cli, HelpAndUsageErrors) {
  EXPECT_EQ(run_cli("--help").code, 0);
  EXPECT_EQ(run_cli("detect --help").code, 0);
  EXPECT_EQ(run_cli("eval --help").code, 0);
  EXPECT_EQ(run_cli("train-classifier --help").code, 0);
  EXPECT_EQ(run_cli("classify --help").code, 0);
  EXPECT_EQ(run_cli("").code, 2);
  EXPECT_EQ(run_cli("detect").code, 2);
  EXPECT_EQ(run_cli("detect --compat nonsense x.jpg").code, 2);
}

TEST(Cli, DetectCompatReproducesReferenceAndWritesAllOutputs) {
  const std::string demo = kShared + "/2dmatgmm-demo";
  REQUIRE_SHARED_DATA(fs::exists(demo), "shared data not found");
  const fs::path out = fresh_dir("mt_cli_detect");
  const CliRun r = run_cli("detect " + demo + "/images --gmm " + kShared +
                    "/gmm-params/Graphene_GMM.json --compat 2dmatgmm -q --out " + out.string() +
                    " --coco-results " + (out / "coco.json").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("results: "), std::string::npos);
  const auto reference = read_json(demo + "/reference_gmm_detections.json");
  for (const auto& [name, expected] : reference.items()) {
    const auto record = read_json((out / (fs::path(name).stem().string() + ".json")).string());
    EXPECT_EQ(record["width"], 1920);
    ASSERT_EQ(record["flakes"].size(), expected["flakes"].size()) << name;
    for (size_t i = 0; i < record["flakes"].size(); ++i) {
      EXPECT_EQ(record["flakes"][i]["class"], expected["flakes"][i]["thickness"]);
      EXPECT_EQ(record["flakes"][i]["size"], expected["flakes"][i]["size"]);
      EXPECT_EQ(record["flakes"][i]["center"], expected["flakes"][i]["center"]);
      EXPECT_TRUE(record["flakes"][i]["segmentation"]["counts"].is_string());
    }
    const std::string overlay = read_file((out / "overlays" / (fs::path(name).stem().string() + ".jpg")).string());
    EXPECT_EQ(overlay.substr(0, 3), "\xFF\xD8\xFF") << name << ": overlays are JPEG by default";
  }
  EXPECT_GT(read_file((out / "flakes.csv").string()).size(), 200u);
  EXPECT_TRUE(read_json((out / "coco.json").string()).is_array());
  EXPECT_TRUE(no_temp_files(out));
}

TEST(Cli, OverlaysOnlyForImagesWithFlakesAndAsPngOnRequest) {
  const std::string demo = kShared + "/2dmatgmm-demo";
  REQUIRE_SHARED_DATA(fs::exists(demo), "shared data not found");
  std::string with_flakes;
  const auto reference = read_json(demo + "/reference_gmm_detections.json");
  for (const auto& [name, expected] : reference.items())
    if (!expected["flakes"].empty()) with_flakes = name;
  ASSERT_FALSE(with_flakes.empty());
  const fs::path in = fresh_dir("mt_cli_overlays_in");
  fs::copy_file(demo + "/images/" + with_flakes, in / "flakes.jpg");
  cv::imwrite((in / "blank.png").string(), cv::Mat(256, 256, CV_8UC3, cv::Scalar(120, 110, 140)));
  const std::string common = "detect " + in.string() + " --gmm " + kShared +
                             "/gmm-params/Graphene_GMM.json --compat 2dmatgmm -q -j 2 --out ";

  const fs::path out = fresh_dir("mt_cli_overlays_out");
  const CliRun r = run_cli(common + out.string() + " --overlays flakes-only --overlay-format png");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_file((out / "overlays" / "flakes.png").string()).substr(1, 3), "PNG");
  EXPECT_FALSE(fs::exists(out / "overlays" / "blank.png"));
  EXPECT_TRUE(fs::exists(out / "blank.json"));
  EXPECT_TRUE(no_temp_files(out));

  const fs::path none = fresh_dir("mt_cli_overlays_none");
  ASSERT_EQ(run_cli(common + none.string() + " --no-overlays").code, 0);
  EXPECT_FALSE(fs::exists(none / "overlays"));
  EXPECT_EQ(run_cli(common + none.string() + " --overlays some").code, 2);
}

TEST(Cli, DoctorPrintsBlasKernelThreadsAndCpuFeatures) {
  const CliRun r = run_cli("doctor");
  EXPECT_EQ(r.code, 0) << r.output;
  for (const char* line : {"BLAS kernel: ", "BLAS GEMM self-check: passed", "BLAS threads: ", "oneDNN: ", "CPU features: "})
    EXPECT_NE(r.output.find(line), std::string::npos) << line << "\n" << r.output;
}

TEST(Cli, BadInputsAreReportedAndTheRestIsProcessed) {
  const std::string demo = kShared + "/2dmatgmm-demo/images/28f74d1c-31f9-4b18-b721-7563245faee1.jpg";
  REQUIRE_SHARED_DATA(fs::exists(demo), "shared data not found");
  const fs::path in = fresh_dir("mt_cli_bad_in");
  const fs::path out = fresh_dir("mt_cli_bad_out");
  fs::copy_file(demo, in / "good.jpg");
  const std::string bytes = read_file(demo);
  write_file_atomic((in / "cut.jpg").string(), bytes.substr(0, bytes.size() / 3));
  write_file_atomic((in / "notes.png").string(), "not an image");
  fs::create_symlink(in / "loop.jpg", in / "loop.jpg");  // listing the folder used to abort the whole batch
  const CliRun r = run_cli("detect " + in.string() + " " + (in / "missing.jpg").string() + " -q --out " + out.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("cut.jpg: truncated JPEG"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("notes.png: unsupported image format"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("missing.jpg: no such file"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("loop.jpg: "), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(out / "good.json"));
  EXPECT_FALSE(fs::exists(out / "cut.json"));
  EXPECT_TRUE(no_temp_files(out));

  const fs::path params = in / "broken_gmm.json";
  write_file_atomic(params.string(), "{\"1\": {\"contrast\": ");
  const CliRun bad_model = run_cli("detect " + (in / "good.jpg").string() + " --gmm " + params.string() + " -q --out " +
                            out.string());
  EXPECT_EQ(bad_model.code, 3);
  EXPECT_NE(bad_model.output.find("broken_gmm.json: malformed JSON"), std::string::npos) << bad_model.output;
}

TEST(Cli, DetectThenEvalOnRealInstanceMasks) {
  const std::string images = kShared + "/maskterial-demo/images/GrapheneH";
  const std::string masks = kShared + "/maskterial-demo/instance_masks/GrapheneH";
  REQUIRE_SHARED_DATA(fs::exists(masks), "shared data not found");
  const fs::path out = fresh_dir("mt_cli_eval");
  coco::write_dataset((out / "gt.json").string(), coco::read_instance_mask_folder(images, masks));
  const CliRun detect = run_cli("detect " + images + " -q --segmenter none --no-overlays --out " + (out / "det").string() + " --gt " +
                         (out / "gt.json").string() + " --coco-results " + (out / "dt.json").string());
  // Images without a ground-truth entry are reported (they have no COCO id), the others evaluated.
  ASSERT_LE(detect.code, 1) << detect.output;
  const CliRun eval = run_cli("eval --gt " + (out / "gt.json").string() + " --dt " + (out / "dt.json").string() +
                       " --class-agnostic --out " + (out / "report.json").string());
  ASSERT_EQ(eval.code, 0) << eval.output;
  const auto report = read_json((out / "report.json").string());
  for (const char* key : {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"})
    EXPECT_TRUE(report["stats"].contains(key)) << key;
  EXPECT_GT(report["stats"]["AP50"].get<double>(), 0.0);  // the GMM finds some annotated graphene
  EXPECT_TRUE(report.contains("flake_metrics"));

  // One step: run the detector on the ground truth's images and evaluate.
  const CliRun direct = run_cli("eval --gt " + (out / "gt.json").string() + " --images " + images +
                                 " --class-agnostic --segmenter none");
  ASSERT_EQ(direct.code, 0) << direct.output;
  const auto start = direct.output.find('{');
  ASSERT_NE(start, std::string::npos);
  const auto direct_report = nlohmann::json::parse(direct.output.substr(start));
  EXPECT_NEAR(direct_report["stats"]["AP"].get<double>(), report["stats"]["AP"].get<double>(), 1e-12);
}

TEST(Cli, TrainGmmClassifierThenEval) {
  const std::string images = kShared + "/maskterial-demo/images/GrapheneH";
  const std::string masks = kShared + "/maskterial-demo/instance_masks/GrapheneH";
  REQUIRE_SHARED_DATA(fs::exists(masks), "shared data not found");
  const fs::path out = fresh_dir("mt_cli_train");
  coco::write_dataset((out / "gt.json").string(), coco::read_instance_mask_folder(images, masks));
  const CliRun train = run_cli("train-classifier --type gmm -q --images " + images + " --annotations " +
                           (out / "gt.json").string() + " --out " + (out / "gmm").string() + " --test-images " +
                           images + " --test-annotations " + (out / "gt.json").string());
  ASSERT_EQ(train.code, 0) << train.output;
  EXPECT_NE(train.output.find("\"accuracy\""), std::string::npos) << train.output;
  EXPECT_EQ(read_json((out / "gmm" / "model.json").string())["type"], "gmm");
  const auto params = read_json((out / "gmm" / "gmm.json").string());
  ASSERT_TRUE(params.contains("1"));
  EXPECT_LT(params["1"]["contrast"]["g"].get<double>(), -0.05);  // graphene is darker than the substrate

  const CliRun eval = run_cli("eval --gt " + (out / "gt.json").string() + " --images " + images + " --classifier " +
                          (out / "gmm").string() + " --segmenter none --class-agnostic -j 2");
  ASSERT_EQ(eval.code, 0) << eval.output;
  const auto report = nlohmann::json::parse(eval.output.substr(eval.output.find('{')));
  EXPECT_GT(report["stats"]["AP50"].get<double>(), 0.1) << report.dump();
}

TEST(Cli, ClassifyWritesMaskTerialsClassMap) {
  const std::string fixture = std::string(MASKTERIAL_TEST_DATA) + "/amm_maskterial";
  const auto reference = read_json(fixture + "/reference_outputs.json");
  const std::string image = kShared + "/maskterial-demo/images/" + reference["image"].get<std::string>();
  REQUIRE_SHARED_DATA(fs::exists(image), "shared data not found");
  const fs::path out = fresh_dir("mt_cli_classify");
  const CliRun r = run_cli("classify --classifier " + fixture + " --out " + (out / "map.png").string() + " " + image);
  ASSERT_EQ(r.code, 0) << r.output;
  const cv::Mat got = cv::imread((out / "map.png").string(), cv::IMREAD_UNCHANGED);
  const cv::Mat expected = cv::imread(fixture + "/reference_class_map.png", cv::IMREAD_UNCHANGED);
  ASSERT_EQ(got.type(), CV_8U);
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_LE(cv::countNonZero(got != expected), 5);
  EXPECT_EQ(run_cli("classify --classifier " + fixture + " --out " + (out / "x.png").string() + " " +
                (out / "missing.jpg").string()).code, 2);
}

// Train an AMM on the GrapheneH demo images, detect with it, evaluate; then train on the monolayer image alone
// and check that the bilayers of another image come out as unknown, not as monolayer.
TEST(Cli, TrainAmmThenDetectThenEvalAndFlagUnseenThickness) {
  const std::string images = kShared + "/maskterial-demo/images/GrapheneH";
  const std::string masks = kShared + "/maskterial-demo/instance_masks/GrapheneH";
  REQUIRE_SHARED_DATA(fs::exists(masks), "shared data not found");
  const fs::path out = fresh_dir("mt_cli_amm");
  const coco::Dataset all = coco::read_instance_mask_folder(images, masks);
  coco::write_dataset((out / "gt.json").string(), all);
  const CliRun train = run_cli("train-classifier --type amm -q --iterations 300 --images " + images +
                           " --annotations " + (out / "gt.json").string() + " --out " + (out / "amm").string() +
                           " --test-images " + images + " --test-annotations " + (out / "gt.json").string());
  ASSERT_EQ(train.code, 0) << train.output;
  for (const char* f : {"model.json", "meta_data.json", "model.pth", "loc.npy", "cov.npy", "training_curves.png",
                        "test_report.json"})
    EXPECT_TRUE(fs::exists(out / "amm" / f)) << f;
  EXPECT_GT(read_json((out / "amm" / "test_report.json").string())["accuracy"].get<double>(), 0.8);

  std::string annotated;
  for (const auto& im : all.images) annotated += images + "/" + im.file_name + " ";
  const CliRun detect = run_cli("detect " + annotated + "-q --segmenter none --classifier " + (out / "amm").string() + " --out " +
                            (out / "det").string() + " --coco-results " + (out / "dt.json").string() + " --gt " +
                            (out / "gt.json").string());
  ASSERT_EQ(detect.code, 0) << detect.output;
  const CliRun eval = run_cli("eval --gt " + (out / "gt.json").string() + " --dt " + (out / "dt.json").string() +
                          " --class-agnostic");
  ASSERT_EQ(eval.code, 0) << eval.output;
  const auto report = nlohmann::json::parse(eval.output.substr(eval.output.find('{')));
  EXPECT_GT(report["stats"]["AP50"].get<double>(), 0.1) << report.dump();

  // Monolayer image alone (17294f8a), then the bilayers of 20ea4e7f.
  coco::Dataset mono;
  std::string bilayer_file;
  int64_t bilayer_id = -1;
  for (const auto& im : all.images) {
    if (im.file_name.rfind("20ea4e7f", 0) == 0) bilayer_file = im.file_name, bilayer_id = im.id;
    if (im.file_name.rfind("17294f8a", 0) != 0) continue;
    mono.images.push_back(im);
    for (const auto& a : all.annotations)
      if (a.image_id == im.id) mono.annotations.push_back(a);
  }
  ASSERT_EQ(mono.images.size(), 1u);
  ASSERT_GE(bilayer_id, 0);
  coco::write_dataset((out / "mono.json").string(), mono);
  ASSERT_EQ(run_cli("train-classifier --type amm -q --iterations 300 --images " + images + " --annotations " +
                (out / "mono.json").string() + " --out " + (out / "mono").string()).code, 0);
  ASSERT_EQ(run_cli("classify --classifier " + (out / "mono").string() + " --out " + (out / "bi.png").string() + " " +
                images + "/" + bilayer_file).code, 0);
  const cv::Mat labels = cv::imread((out / "bi.png").string(), cv::IMREAD_UNCHANGED);
  size_t as_mono = 0, total = 0;
  for (const auto& a : all.annotations) {
    if (a.image_id != bilayer_id) continue;
    const cv::Mat inside = coco::decode(a.segmentation);
    total += cv::countNonZero(inside);
    as_mono += cv::countNonZero(inside & (labels == 1));
  }
  std::printf("  bilayer pixels labelled monolayer by a monolayer-only AMM: %zu of %zu\n", as_mono, total);
  ASSERT_GT(total, 0u);
  EXPECT_LT(as_mono, total / 10);

  // With --report-unknown, detect reports the bilayers as flakes of class "unknown" (not as monolayers).
  ASSERT_EQ(run_cli("detect -q --segmenter none --report-unknown --no-overlays --classifier " + (out / "mono").string() + " --out " +
                (out / "unknown").string() + " " + images + "/" + bilayer_file).code, 0);
  const auto record = read_json((out / "unknown" / (fs::path(bilayer_file).stem().string() + ".json")).string());
  size_t covered = 0;
  for (const auto& flake : record["flakes"]) {
    const cv::Mat mask = coco::decode(coco::segmentation_from_json(flake["segmentation"], 1200, 1920));
    for (const auto& a : all.annotations)
      if (a.image_id == bilayer_id && flake["class"] == "unknown")
        covered += cv::countNonZero(mask & coco::decode(a.segmentation));
    if (flake["class"] == "unknown") EXPECT_GT(flake["uncertainty"].get<double>(), 10.0);
  }
  EXPECT_GT(covered, total / 2) << record.dump();
}

TEST(Cli, OpticsPrintsContrastPerLayerCount) {
  const CliRun json = run_cli("optics --material graphene --oxide-nm 90 --layers 1-4 --json");
  ASSERT_EQ(json.code, 0) << json.output;
  const auto report = nlohmann::json::parse(json.output);
  EXPECT_EQ(report["material"], "graphene");
  EXPECT_EQ(report["oxide_nm"], 90.0);
  ASSERT_EQ(report["contrast_bgr"].size(), 4u);
  const auto& monolayer = report["contrast_bgr"]["1"];
  ASSERT_EQ(monolayer.size(), 3u);
  EXPECT_NEAR(monolayer[1].get<double>(), -0.14, 0.02);
  EXPECT_LT(report["contrast_bgr"]["4"][1].get<double>(), monolayer[1].get<double>());
  EXPECT_EQ(run_cli("optics --material graphene --layers 2,5").code, 0);
  EXPECT_EQ(run_cli("optics --material unobtainium").code, 3);
  EXPECT_EQ(run_cli("optics --layers 0-3").code, 3);
  EXPECT_EQ(run_cli("optics --oxide-nm -5").code, 2);
}

TEST(Cli, OpticsCalibratesAndWritesAZeroShotGmm) {
  const std::string gmm = kShared + "/gmm-params/Graphene_GMM.json";
  REQUIRE_SHARED_DATA(fs::exists(gmm), "shared data not found");
  const fs::path out = fresh_dir("mt_cli_optics");
  const CliRun r = run_cli("optics --layers 1-4 --json --calibrate-gmm " + gmm + " --gmm-out " + (out / "zero.json").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto report = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_LT(report["calibration"]["rms_residual"].get<double>(), 0.01);
  EXPECT_EQ(read_json((out / "zero.json").string()).size(), 4u);
}

TEST(Cli, SynthWritesImagesAndCocoAnnotations) {
  const fs::path out = fresh_dir("mt_cli_synth");
  const CliRun r = run_cli("synth --count 3 --seed 5 --size 128 -q --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const coco::Dataset dataset = coco::read_dataset((out / "annotations.json").string());
  ASSERT_EQ(dataset.images.size(), 3u);
  for (const auto& image : dataset.images) EXPECT_TRUE(fs::exists(out / "images" / image.file_name));
  EXPECT_TRUE(fs::exists(out / "annotations_agnostic.json"));
  EXPECT_TRUE(no_temp_files(out));
  // Same seed, same bytes.
  const fs::path again = fresh_dir("mt_cli_synth_again");
  ASSERT_EQ(run_cli("synth --count 3 --seed 5 --size 128 -q -j 1 --out " + again.string()).code, 0);
  EXPECT_EQ(read_file((out / "images/000002.png").string()), read_file((again / "images/000002.png").string()));
  EXPECT_EQ(run_cli("synth --count 2 --agnostic --material graphene --out " + out.string()).code, 2);
  EXPECT_EQ(run_cli("synth --count 2 --material kryptonite -q --out " + out.string()).code, 3);
}

TEST(Cli, DetectWithASegmenterClassifiesItsMasks) {
  // A segmenter whose every query is the whole image (score sigmoid(3)); 55% of the image is class 1 in four
  // slightly different colours, 45% substrate (the background colour): one flake of class 1, the whole image.
  const fs::path dir = fresh_dir("maskterial_cli_segmenter");
  segment::SegmenterOptions one_query = test_models::tiny_segmenter_options();
  one_query.decoder.queries = 1;  // identical queries would give identical flakes
  segment::Segmenter(test_models::constant_mask_model(one_query, 3.0)).save((dir / "model").string());
  const auto cov = nlohmann::ordered_json{{1e-4, 0, 0}, {0, 1e-4, 0}, {0, 0, 1e-4}};
  write_json_atomic((dir / "gmm.json").string(),
                    nlohmann::ordered_json{{"1", {{"contrast", {{"b", -0.1}, {"g", -0.2}, {"r", -0.15}}},
                                                  {"covariance_matrix", cov}}}});
  cv::Mat image(60, 100, CV_8UC3, cv::Scalar(150, 110, 130));
  const cv::Scalar shades[] = {{135, 88, 110}, {136, 88, 110}, {135, 89, 110}, {135, 88, 111}};
  for (int y = 0; y < 60; ++y) image(cv::Rect(0, y, 55, 1)).setTo(shades[y % 4]);
  cv::imwrite((dir / "scan.png").string(), image);

  const CliRun ok = run_cli("detect " + (dir / "scan.png").string() + " --segmenter " + (dir / "model").string() +
                        " --classifier " + (dir / "gmm.json").string() + " --out " + (dir / "out").string() +
                        " -q --majority-vote");
  ASSERT_EQ(ok.code, 0) << ok.output;
  const auto record = read_json((dir / "out" / "scan.json").string());
  ASSERT_EQ(record["flakes"].size(), 1u) << record.dump();
  EXPECT_EQ(record["flakes"][0]["class"], "1");
  EXPECT_EQ(record["flakes"][0]["area"], 60 * 100);
  EXPECT_NEAR(record["flakes"][0]["class_share"].get<double>(), 0.55, 1e-4);
  EXPECT_NEAR(record["flakes"][0]["score"].get<double>(), 1.0 / (1.0 + std::exp(-3.0)), 1e-4);
  // By default the class-1 region inside the mask is the flake.
  const CliRun split = run_cli("detect " + (dir / "scan.png").string() + " --segmenter " + (dir / "model").string() +
                               " --classifier " + (dir / "gmm.json").string() + " --out " + (dir / "split").string() + " -q");
  ASSERT_EQ(split.code, 0) << split.output;
  const auto regions = read_json((dir / "split" / "scan.json").string());
  ASSERT_EQ(regions["flakes"].size(), 1u) << regions.dump();
  EXPECT_EQ(regions["flakes"][0]["class"], "1");
  EXPECT_EQ(regions["flakes"][0]["area"], 55 * 60);
  // A stricter occupancy drops it; a missing model is a fatal error naming the directory.
  const CliRun strict = run_cli("detect " + (dir / "scan.png").string() + " --segmenter " + (dir / "model").string() +
                            " --classifier " + (dir / "gmm.json").string() + " --min-class-occupancy 0.6 --out " +
                            (dir / "strict").string() + " -q --majority-vote");
  ASSERT_EQ(strict.code, 0) << strict.output;
  EXPECT_TRUE(read_json((dir / "strict" / "scan.json").string())["flakes"].empty());
  fs::remove(dir / "model" / "model.pt");
  const CliRun broken = run_cli("detect " + (dir / "scan.png").string() + " --segmenter " + (dir / "model").string() +
                            " --out " + (dir / "broken").string() + " -q");
  EXPECT_EQ(broken.code, 3) << broken.output;
  EXPECT_NE(broken.output.find("model.pt"), std::string::npos) << broken.output;
  fs::remove_all(dir);
}
