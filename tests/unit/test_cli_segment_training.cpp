// `maskterial pretrain` and `maskterial finetune` as a user runs them, on tiny sizes.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <future>

#include "maskterial/segment/dense/dense_segmenter.hpp"
#include "maskterial/segment/mask2former/segmenter.hpp"
#include "maskterial/synth/dataset_writer.hpp"
#include "maskterial/util/files.hpp"
#include "cli_test_helpers.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::cli_test;

namespace {

const std::string kShared = MASKTERIAL_SHARED_DATA;
const std::string kTiny = " --type mask2former --preset lite --batch-size 1 --size 64 --threads 1 -q";

// Two small synthetic images with their COCO files (images/, annotations_agnostic.json) to fine-tune on.
void write_tiny_dataset(const fs::path& dir) {
  synth::SynthConfig config;
  config.width = config.height = 160;
  config.min_flake_px = 20;
  config.max_flake_px = 60;
  synth::SynthRunOptions options;
  options.count = 2;
  options.progress = false;
  synth::write_synthetic_dataset(synth::Generator(config), dir.string(), options);
}
}  // namespace

TEST(CliSegmentTraining, PretrainResumeAndFinetune) {
  const fs::path dir = fresh_dir("maskterial_cli_seg_train");
  const std::string model = (dir / "pretrained").string();
  CliRun r = run_cli("pretrain --out " + model + " --iterations 2" + kTiny);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(model + "/training_curves.png"));
  EXPECT_TRUE(fs::exists(model + ".checkpoint.pt"));
  nlohmann::json training = segment::Segmenter::load(model)->describe()["training"];
  EXPECT_EQ(training["mode"], "pretrain");
  EXPECT_EQ(training["log"]["iteration"].back(), 2);
  EXPECT_EQ(training["data"]["type"], "synthetic");

  // One more iteration, continuing from the checkpoint.
  r = run_cli("pretrain --out " + model + " --iterations 3 --resume" + kTiny);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming"), std::string::npos) << r.output;
  training = segment::Segmenter::load(model)->describe()["training"];
  EXPECT_EQ(training["log"]["iteration"].back(), 3);
  EXPECT_EQ(training["trainer"]["iterations"], 3);

  // A small COCO dataset to fine-tune on.
  write_tiny_dataset(dir / "data");
  const std::string tuned = (dir / "tuned").string();
  r = run_cli("finetune --images " + (dir / "data/images").string() + " --annotations " +
          (dir / "data/annotations_agnostic.json").string() + " --base " + model + " --out " + tuned +
          " --iterations 2 --batch-size 1 --size 64 --threads 1 -q --freeze-pixel-decoder");
  ASSERT_EQ(r.code, 0) << r.output;
  training = segment::Segmenter::load(tuned)->describe()["training"];
  EXPECT_EQ(training["mode"], "finetune");
  EXPECT_EQ(training["base"], model);
  EXPECT_EQ(training["frozen"], nlohmann::json({"backbone", "pixel_decoder"}));
  EXPECT_EQ(training["data"]["type"], "coco");
  EXPECT_DOUBLE_EQ(training["trainer"]["learning_rate"].get<double>(), 1e-4);  // fine-tuning at a CPU budget
}

TEST(CliSegmentTraining, DensePretrainValidatesOnRealImagesAndFinetunes) {
  const fs::path dir = fresh_dir("maskterial_cli_seg_dense");
  write_tiny_dataset(dir / "data");
  const std::string images = (dir / "data/images").string(), coco = (dir / "data/annotations_agnostic.json").string();
  const std::string model = (dir / "pretrained").string();
  CliRun r = run_cli("pretrain --type dense --out " + model + " --iterations 4 --batch-size 2 --size 64 --threads 1 -q" +
                     " --validate held=" + images + ":" + coco + " --validate-every 2 --backgrounds " + images);
  ASSERT_EQ(r.code, 0) << r.output;
  nlohmann::json training = segment::DenseSegmenter::load(model)->training();
  EXPECT_EQ(training["mode"], "pretrain");
  EXPECT_EQ(training["real_backgrounds"], 2);
  ASSERT_EQ(training["validation"].size(), 2u);  // iterations 2 and 4
  EXPECT_EQ(training["validation"][1]["iteration"], 4);
  EXPECT_EQ(training["validation"][1]["sets"]["held"]["images"], 2);
  EXPECT_TRUE(fs::exists(model + "/learning_curve.png"));
  EXPECT_TRUE(fs::exists(model + "/training_curves.png"));

  // Whole-network fine-tuning (the ablation) from the dense model; the type comes from the base directory.
  const std::string tuned = (dir / "tuned").string();
  r = run_cli("finetune --images " + images + " --annotations " + coco + " --base " + model + " --out " + tuned +
              " --iterations 2 --batch-size 1 --size 64 --threads 1 -q --train-all");
  ASSERT_EQ(r.code, 0) << r.output;
  training = segment::DenseSegmenter::load(tuned)->training();
  EXPECT_EQ(training["frozen"], nlohmann::json::array());
  EXPECT_EQ(run_cli("finetune --images " + images + " --annotations " + coco + " --base " + model + " --out " + tuned +
                    " --iterations 1 --freeze-pixel-decoder -q").code, 2);  // a Mask2Former option
  EXPECT_EQ(run_cli("pretrain --type dense --world-size 2 --out " + model + " --iterations 1 -q").code, 2);
}

TEST(CliSegmentTraining, UsageErrors) {
  const fs::path dir = fresh_dir("maskterial_cli_seg_usage");
  EXPECT_EQ(run_cli("pretrain --help").code, 0);
  EXPECT_EQ(run_cli("finetune --help").code, 0);
  EXPECT_EQ(run_cli("pretrain --out " + (dir / "m").string()).code, 2);  // --iterations missing
  EXPECT_EQ(run_cli("pretrain --out " + (dir / "m").string() + " --iterations 1 --preset huge").code, 2);
  EXPECT_EQ(run_cli("pretrain --out " + (dir / "m").string() + " --iterations 1 --world-size 2 --rank 2").code, 2);
  EXPECT_EQ(run_cli("finetune --images " + dir.string() + " --annotations nope.json --out " + (dir / "m").string()).code, 2);
  // A training size that is no multiple of 32 is refused before any work.
  const CliRun r = run_cli("pretrain --out " + (dir / "m").string() + " --iterations 1 --size 100 -q");
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.output.find("multiple of 32"), std::string::npos) << r.output;
}

TEST(CliSegmentTraining, TwoProcessPretraining) {
  const fs::path dir = fresh_dir("maskterial_cli_seg_ddp");
  const std::string master = "127.0.0.1:" + std::to_string(free_port());
  auto rank = [&](int r) {
    return std::async(std::launch::async, [&, r] {
      return run_cli("pretrain --out " + (dir / ("rank" + std::to_string(r))).string() +
                 " --iterations 2 --world-size 2 --rank " + std::to_string(r) + " --master " + master +
                 " --type mask2former --preset lite --batch-size 2 --size 64 --threads 1 -q");
    });
  };
  auto first = rank(0), second = rank(1);
  const CliRun a = first.get(), b = second.get();
  ASSERT_EQ(a.code, 0) << a.output;
  ASSERT_EQ(b.code, 0) << b.output;
  // Rank 0 writes the model (trained on both processes' images); rank 1 writes nothing.
  const nlohmann::json training = segment::Segmenter::load((dir / "rank0").string())->describe()["training"];
  EXPECT_EQ(training["processes"], 2);
  EXPECT_FALSE(fs::exists(dir / "rank1"));
}

TEST(CliSegmentTraining, DetectAndFinetuneDefaultToTheShippedModels) {
  const std::string image = kShared + "/maskterial-demo/images/WSe2/5e12dd38-ebfa-4dc6-8fb8-c5afe8027d8e.jpg";
  REQUIRE_SHARED_DATA(fs::exists(image), "shared data not found");
  const fs::path dir = fresh_dir("maskterial_cli_seg_defaults");
  // detect: the shipped segmentation model + the classifier, unless --segmenter none.
  CliRun r = run_cli("detect --no-overlays -q --out " + (dir / "full").string() + " " + image);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("segmenter " + std::string(MASKTERIAL_SOURCE_DIR) + "/models/segmenter/pretrained +"),
            std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "full" / "5e12dd38-ebfa-4dc6-8fb8-c5afe8027d8e.json"));
  r = run_cli("detect --no-overlays -q --segmenter none --out " + (dir / "classical").string() + " " + image);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("segmenter"), std::string::npos) << r.output;
  EXPECT_EQ(run_cli("detect --segmenter nowhere --out " + (dir / "x").string() + " " + image).code, 2);

  // finetune: starts from the synthetic-only pretrained dense model, decoder only.
  const std::string masks = kShared + "/maskterial-demo/instance_masks/WSe2";
  const fs::path one = dir / "one";
  fs::create_directories(one / "images");
  fs::create_directories(one / "masks");
  fs::copy_file(image, one / "images" / "a.jpg");
  fs::copy_file(masks + "/5e12dd38-ebfa-4dc6-8fb8-c5afe8027d8e.png", one / "masks" / "a.png");
  ASSERT_EQ(run_cli("dataset --images " + (one / "images").string() + " --instance-masks " + (one / "masks").string() +
                    " --out " + (one / "coco.json").string()).code, 0);
  r = run_cli("finetune --images " + (one / "images").string() + " --annotations " + (one / "coco.json").string() +
              " --out " + (dir / "tuned").string() + " --iterations 1 --batch-size 1 --size 64 --threads 1 -q");
  ASSERT_EQ(r.code, 0) << r.output;
  const nlohmann::json training = segment::DenseSegmenter::load((dir / "tuned").string())->training();
  EXPECT_EQ(training["base"], std::string(MASKTERIAL_SOURCE_DIR) + "/models/segmenter/pretrained");
  EXPECT_EQ(training["frozen"], nlohmann::json({"encoder"}));

  // --unlabelled: this microscope's unannotated scans carry synthetic flakes of the annotated contrasts.
  fs::create_directories(one / "unlabelled");
  fs::copy_file(kShared + "/maskterial-demo/images/WSe2/b8a84165-19ce-4f49-8b7a-9c9f152aa6cf.jpg", one / "unlabelled" / "b.jpg");
  r = run_cli("finetune --images " + (one / "images").string() + " --annotations " + (one / "coco.json").string() +
              " --unlabelled " + (one / "unlabelled").string() + " --out " + (dir / "tuned_unlabelled").string() +
              " --iterations 1 --batch-size 1 --size 64 --threads 1 -q");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("unlabelled scans: 1 substrates"), std::string::npos) << r.output;
  const nlohmann::json mixed = segment::DenseSegmenter::load((dir / "tuned_unlabelled").string())->training()["data"];
  EXPECT_EQ(mixed["type"], "mixed");
  EXPECT_EQ(mixed["second_share"], 0.5);
  EXPECT_EQ(run_cli("finetune --images " + (one / "images").string() + " --annotations " + (one / "coco.json").string() +
                    " --unlabelled " + (one / "nowhere").string() + " --out " + (dir / "x").string()).code, 2);
}

// The README's first command: the default pipeline finds flakes on both bundled images, where the classifier
// alone sees thin flakes too (at least one default flake overlaps one of them).
TEST(CliSegmentTraining, DemoImagesGiveFlakesWithTheDefaultPipeline) {
  const fs::path dir = fresh_dir("maskterial_cli_demo");
  const std::string images = std::string(MASKTERIAL_SOURCE_DIR) + "/examples/images";
  ASSERT_EQ(run_cli("detect -q --out " + (dir / "default").string() + " " + images).code, 0);
  ASSERT_EQ(run_cli("detect -q --no-overlays --segmenter none --out " + (dir / "classifier").string() + " " + images).code, 0);
  for (const std::string stem : {"graphene_1", "graphene_2"}) {
    const nlohmann::json found = read_json((dir / "default" / (stem + ".json")).string());
    const nlohmann::json classical = read_json((dir / "classifier" / (stem + ".json")).string());
    ASSERT_FALSE(found["flakes"].empty()) << stem;
    EXPECT_TRUE(fs::exists(dir / "default" / "overlays" / (stem + ".png")) || fs::exists(dir / "default" / "overlays" / (stem + ".jpg")));
    bool overlaps = false;
    for (const auto& f : found["flakes"])
      for (const auto& c : classical["flakes"]) {
        const auto a = f["bbox"].get<std::vector<double>>(), b = c["bbox"].get<std::vector<double>>();
        overlaps = overlaps || (a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3]);
      }
    EXPECT_TRUE(overlaps) << stem << ": no default flake where the classifier sees one";
  }
}
