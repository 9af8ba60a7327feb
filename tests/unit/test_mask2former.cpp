// The Mask2Former model: options, output shapes of the presets and pixel decoders, deformable sampling,
// masked attention, determinism, and the segmenter's model directory and inference.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include <unistd.h>

#include "maskterial/segment/mask2former/mask2former.hpp"
#include "maskterial/segment/mask2former/segmenter.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "segmenter_test_models.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::segment;

namespace {

using test_models::constant_mask_model;
using test_models::tiny_segmenter_options;

Mask2Former seeded_model(const SegmenterOptions& options) {
  torch::manual_seed(7);
  return Mask2Former(options);
}

std::string temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("maskterial_m2f_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir.string();
}

void expect_error_naming(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no Error thrown, expected one naming " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(SegmenterOptions, PresetsRoundTripThroughJsonAndOverridesApply) {
  for (const char* name : {"paper", "lite"}) {
    const SegmenterOptions o = SegmenterOptions::preset_named(name);
    EXPECT_EQ(SegmenterOptions::from_json(o.to_json(), "x").to_json(), o.to_json());
  }
  const SegmenterOptions paper = SegmenterOptions::preset_named("paper");
  EXPECT_EQ(paper.backbone.depth, 50);
  EXPECT_EQ(paper.pixel_decoder.encoder_layers, 6);
  EXPECT_EQ(paper.decoder.layers, 9);
  EXPECT_EQ(paper.decoder.queries, 100);
  const SegmenterOptions o = SegmenterOptions::from_json(
      {{"preset", "lite"}, {"decoder", {{"queries", 7}}}, {"pixel_decoder", {{"type", "fpn"}}}}, "x");
  EXPECT_EQ(o.preset, "lite");
  EXPECT_EQ(o.decoder.queries, 7);
  EXPECT_EQ(o.pixel_decoder.type, "fpn");
  EXPECT_EQ(o.backbone.depth, SegmenterOptions::preset_named("lite").backbone.depth);
}

TEST(SegmenterOptions, BadValuesAreErrorsNamingTheSource) {
  expect_error_naming([] { SegmenterOptions::from_json({{"preset", "huge"}}, "m.json"); }, "m.json");
  expect_error_naming([] { SegmenterOptions::from_json({{"decoder", {{"querys", 5}}}}, "m.json"); }, "querys");
  expect_error_naming([] { SegmenterOptions::from_json({{"backbone", {{"depth", 101}}}}, "m.json"); }, "depth");
  expect_error_naming([] { SegmenterOptions::from_json({{"backbone", {{"depth", "50"}}}}, "m.json"); }, "depth");
  expect_error_naming([] { SegmenterOptions::from_json({{"pixel_decoder", {{"type", "unet"}}}}, "m.json"); },
                      "msdeform");
  expect_error_naming([] { SegmenterOptions::from_json({{"pixel_std", {1, 0, 1}}}, "m.json"); }, "pixel_std");
  expect_error_naming([] { SegmenterOptions::from_json(nlohmann::json::array(), "m.json"); }, "m.json");
}

TEST(Mask2Former, OutputShapesForBothPixelDecoders) {
  for (const char* type : {"msdeform", "fpn"}) {
    SCOPED_TRACE(type);
    Mask2Former model = seeded_model(tiny_segmenter_options(type));
    const SegmenterOutput out = model->forward(torch::rand({2, 3, 64, 96}) * 255);
    EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{2, 5, 2}));
    EXPECT_EQ(out.masks.sizes(), (std::vector<int64_t>{2, 5, 16, 24}));
    ASSERT_EQ(out.aux.size(), 3u);  // the prediction before the first layer and after all but the last
    for (const auto& aux : out.aux) {
      EXPECT_EQ(aux.logits.sizes(), out.logits.sizes());
      EXPECT_EQ(aux.masks.sizes(), out.masks.sizes());
      EXPECT_TRUE(aux.aux.empty());
    }
    EXPECT_TRUE(torch::isfinite(out.masks).all().item<bool>());
  }
}

TEST(Mask2Former, PresetsBuildAndRun) {
  for (const char* name : {"lite", "paper"}) {
    SCOPED_TRACE(name);
    const SegmenterOptions o = SegmenterOptions::preset_named(name);
    Mask2Former model = seeded_model(o);
    model->eval();
    torch::NoGradGuard no_grad;
    const SegmenterOutput out = model->forward(torch::rand({1, 3, 64, 64}) * 255);
    EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{1, o.decoder.queries, 2}));
    EXPECT_EQ(out.masks.sizes(), (std::vector<int64_t>{1, o.decoder.queries, 16, 16}));
    EXPECT_EQ(out.aux.size(), static_cast<size_t>(o.decoder.layers));
  }
}

TEST(Mask2Former, PartsAreRegisteredForFreezing) {
  Mask2Former model = seeded_model(tiny_segmenter_options());
  size_t parts = 0;
  for (torch::nn::Module* part : {&model->backbone(), &model->pixel_decoder(), &model->predictor()})
    parts += part->parameters().size();
  EXPECT_EQ(parts, model->parameters().size());
  EXPECT_FALSE(model->backbone().parameters().empty());
  EXPECT_FALSE(model->pixel_decoder().parameters().empty());
  for (const auto& p : model->named_parameters(true))
    EXPECT_TRUE(p.key().rfind("backbone.", 0) == 0 || p.key().rfind("pixel_decoder.", 0) == 0 ||
                p.key().rfind("predictor.", 0) == 0)
        << p.key();
}

TEST(Mask2Former, FrozenBatchNormHasNoParameters) {
  SegmenterOptions o = tiny_segmenter_options();
  o.backbone.frozen_bn = true;
  Mask2Former frozen = seeded_model(o);
  o.backbone.frozen_bn = false;
  Mask2Former trainable = seeded_model(o);
  EXPECT_LT(frozen->backbone().parameters().size(), trainable->backbone().parameters().size());
  // Training mode does not move its statistics.
  const torch::Tensor before = frozen->backbone().buffers().front().clone();
  frozen->train();
  frozen->forward(torch::rand({2, 3, 64, 64}) * 255);
  EXPECT_TRUE(torch::equal(before, frozen->backbone().buffers().front()));
}

TEST(Mask2Former, RejectsInputsNotMultipleOf32) {
  Mask2Former model = seeded_model(tiny_segmenter_options());
  EXPECT_THROW(model->forward(torch::zeros({1, 3, 48, 64})), Error);
  EXPECT_THROW(model->forward(torch::zeros({1, 1, 64, 64})), Error);
}

TEST(Mask2Former, ForwardIsDeterministic) {
  const torch::Tensor images = torch::rand({1, 3, 64, 64}) * 255;
  Mask2Former a = seeded_model(tiny_segmenter_options());
  Mask2Former b = seeded_model(tiny_segmenter_options());
  a->eval();
  b->eval();
  torch::NoGradGuard no_grad;
  const SegmenterOutput first = a->forward(images);
  EXPECT_TRUE(torch::equal(first.masks, a->forward(images).masks));
  EXPECT_TRUE(torch::equal(first.masks, b->forward(images).masks));
  EXPECT_TRUE(torch::equal(first.logits, b->forward(images).logits));
}

TEST(Mask2Former, GradientsReachEveryPart) {
  Mask2Former model = seeded_model(tiny_segmenter_options());
  const SegmenterOutput out = model->forward(torch::rand({1, 3, 64, 64}) * 255);
  (out.masks.sigmoid().mean() + out.logits.softmax(-1).select(2, 0).mean()).backward();
  for (torch::nn::Module* part : {&model->backbone(), &model->pixel_decoder(), &model->predictor()}) {
    double norm = 0;
    for (const auto& p : part->parameters())
      if (p.grad().defined()) norm += p.grad().norm().item<double>();
    EXPECT_GT(norm, 0);
  }
}

TEST(DeformableAttention, SamplesValuesAtPixelCentresWithBilinearWeights) {
  // One head, depth 1, two levels (3x4 and 2x2); value = pixel index within its level.
  const std::vector<std::pair<int64_t, int64_t>> shapes{{3, 4}, {2, 2}};
  const torch::Tensor value = torch::cat({torch::arange(12.0), torch::arange(4.0)}).view({1, 16, 1, 1});
  // One query, one point per level: level 0 at the centre of pixel (x 1, y 2) = index 9, level 1 halfway
  // between pixels 0 and 1 of the top row = 0.5.
  const torch::Tensor locations = torch::tensor({1.5f / 4, 2.5f / 3, 1.0f / 2, 0.5f / 2}).view({1, 1, 1, 2, 1, 2});
  const torch::Tensor weights = torch::tensor({0.25f, 0.75f}).view({1, 1, 1, 2, 1});
  const torch::Tensor out = deformable_sample(value, shapes, locations, weights);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_NEAR(out.item<float>(), 0.25 * 9 + 0.75 * 0.5, 1e-5);
  // Outside the map it reads zeros.
  const torch::Tensor outside = torch::tensor({-1.0f, -1.0f, 2.0f, 2.0f}).view({1, 1, 1, 2, 1, 2});
  EXPECT_NEAR(deformable_sample(value, shapes, outside, weights).item<float>(), 0.0, 1e-6);
}

TEST(MaskedAttention, BlocksOutsideThePredictedMaskAndNeverEveryPixel) {
  // Query 0: positive only in the top-left 2x2 of a 4x4 map; query 1: negative everywhere.
  torch::Tensor logits = torch::full({1, 2, 4, 4}, -5.0);
  logits.index_put_({0, 0, torch::indexing::Slice(0, 2), torch::indexing::Slice(0, 2)}, 5.0);
  const torch::Tensor blocked = attention_mask(logits, 4, 4);
  ASSERT_EQ(blocked.sizes(), (std::vector<int64_t>{1, 2, 16}));
  EXPECT_EQ(blocked.dtype(), torch::kBool);
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 4; ++x) EXPECT_EQ(blocked[0][0][y * 4 + x].item<bool>(), !(y < 2 && x < 2));
  EXPECT_FALSE(blocked[0][1].any().item<bool>());  // an empty mask would block everything: unmasked
  // Resized to a coarser level the mask follows: 2x2 → only the top-left cell open.
  const torch::Tensor coarse = attention_mask(logits, 2, 2);
  EXPECT_EQ(coarse[0][0].to(torch::kInt32).sum().item<int>(), 3);
  EXPECT_FALSE(coarse[0][0][0].item<bool>());
}

TEST(MaskedAttention, BlockedKeysGetNoWeight) {
  torch::manual_seed(3);
  Attention attention(8, 2);
  const torch::Tensor query = torch::randn({1, 2, 8});
  torch::Tensor memory = torch::randn({1, 5, 8});
  torch::Tensor blocked = torch::zeros({1, 2, 5}, torch::kBool);
  blocked.index_put_({0, torch::indexing::Slice(), 4}, true);
  const torch::Tensor before = attention->forward(query, memory, memory, blocked);
  memory.index_put_({0, 4}, torch::randn({8}) * 100);  // changing a blocked key and value changes nothing
  EXPECT_TRUE(torch::allclose(before, attention->forward(query, memory, memory, blocked), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(before, attention->forward(query, memory, memory), 1e-5, 1e-6));
}

TEST(Segmenter, SaveLoadRoundTripGivesIdenticalOutputs) {
  const std::string dir = temp_dir("roundtrip");
  const Segmenter original(seeded_model(tiny_segmenter_options()), {{"iterations", 12}});
  original.save(dir);
  EXPECT_TRUE(fs::exists(fs::path(dir) / "model.json"));
  const auto loaded = Segmenter::load(dir);
  EXPECT_EQ(loaded->describe(), original.describe());
  EXPECT_EQ(loaded->describe()["training"]["iterations"], 12);
  const torch::Tensor images = torch::rand({1, 3, 64, 96}) * 255;
  torch::NoGradGuard no_grad;
  const SegmenterOutput a = original.model()->forward(images);
  const SegmenterOutput b = loaded->model()->forward(images);
  EXPECT_TRUE(torch::equal(a.logits, b.logits));
  EXPECT_TRUE(torch::equal(a.masks, b.masks));
  fs::remove_all(dir);
}

TEST(Segmenter, BadModelDirectoriesAreErrorsNamingTheFile) {
  const std::string dir = temp_dir("bad");
  expect_error_naming([&] { Segmenter::load(dir); }, dir);  // missing
  fs::create_directories(dir);
  const std::string meta = dir + "/model.json";
  expect_error_naming([&] { Segmenter::load(dir); }, meta);  // no model.json
  write_file_atomic(meta, "{ not json");
  expect_error_naming([&] { Segmenter::load(dir); }, meta);
  fs::remove_all(dir);

  Segmenter(seeded_model(tiny_segmenter_options()), {}).save(dir);
  nlohmann::json good = read_json(meta);
  nlohmann::json wrong_kind = good;
  wrong_kind["kind"] = "classification";
  write_json_atomic(meta, wrong_kind);
  expect_error_naming([&] { Segmenter::load(dir); }, meta);
  nlohmann::json bad_options = good;
  bad_options["options"]["decoder"]["heads"] = 3;
  write_json_atomic(meta, bad_options);
  expect_error_naming([&] { Segmenter::load(dir); }, meta);
  // Options of another architecture than the weights: named tensor does not fit.
  nlohmann::json other = good;
  other["options"]["decoder"]["queries"] = 6;
  write_json_atomic(meta, other);
  expect_error_naming([&] { Segmenter::load(dir); }, dir + "/model.pt");
  nlohmann::json fewer_layers = good;
  fewer_layers["options"]["decoder"]["layers"] = 4;  // needs tensors the file lacks
  write_json_atomic(meta, fewer_layers);
  expect_error_naming([&] { Segmenter::load(dir); }, dir + "/model.pt");
  write_json_atomic(meta, good);
  write_file_atomic(dir + "/model.pt", "garbage");
  expect_error_naming([&] { Segmenter::load(dir); }, dir + "/model.pt");
  fs::remove(dir + "/model.pt");
  expect_error_naming([&] { Segmenter::load(dir); }, dir + "/model.pt");
  fs::remove_all(dir);
}

TEST(Segmenter, PredictGivesFullSizeMasksWithTheExpectedScore) {
  // Every query is the whole image with score sigmoid(2) (see constant_mask_model).
  SegmenterOptions o = tiny_segmenter_options();
  o.inference_scale = 0.5;  // and the image is no multiple of 32: crop and resize paths
  o.inference_mask_nms = 0;  // keep the identical masks
  const Mask2Former model = constant_mask_model(o, 2.0);
  const cv::Mat image(90, 130, CV_8UC3, cv::Scalar(100, 140, 90));
  const auto instances = Segmenter(model).predict(image);
  ASSERT_EQ(instances.size(), static_cast<size_t>(o.decoder.queries));
  for (const auto& instance : instances) {
    EXPECT_EQ(instance.mask.size(), image.size());
    EXPECT_EQ(instance.mask.type(), CV_8U);
    EXPECT_EQ(cv::countNonZero(instance.mask == 255), image.rows * image.cols);
    EXPECT_NEAR(instance.score, 1.0 / (1.0 + std::exp(-2.0)), 1e-4);
    EXPECT_EQ(instance.category, 0);
  }
  // Above the threshold only: sigmoid(2) = 0.88.
  EXPECT_TRUE(Segmenter(model, {}, 0.9).predict(image).empty());
  EXPECT_THROW(Segmenter(model).predict(cv::Mat(10, 10, CV_8UC1)), Error);
}

TEST(Segmenter, ScaleImageKeepsAspectAndType) {
  const cv::Mat image(1200, 1920, CV_8UC3, cv::Scalar(1, 2, 3));
  const cv::Mat half = scale_image(image, 0.5);
  EXPECT_EQ(half.size(), cv::Size(960, 600));
  EXPECT_EQ(half.type(), CV_8UC3);
  EXPECT_EQ(scale_image(image, 1.0).data, image.data);
}

TEST(Segmenter, ResampledMasksMatchBilinearUpsamplingAndStayInPlace) {
  // A 10x12 logit map with a positive block (+1 on -2.5, so no pixel lands exactly on 0), upsampled x4 as
  // detectron2 does (bilinear, align_corners = false): the same mask.
  torch::Tensor logits = torch::full({10, 12}, -2.5f);
  logits.index_put_({torch::indexing::Slice(3, 6), torch::indexing::Slice(2, 5)}, 1.0f);
  logits.index_put_({9, 11}, 1.0f);  // a corner pixel: the border replicates
  const cv::Mat mat(10, 12, CV_32F, logits.data_ptr<float>());
  const cv::Mat mask = resample_mask(mat, 0.25, 0.25, cv::Size(48, 40));
  namespace F = torch::nn::functional;
  const torch::Tensor expected =
      F::interpolate(logits.view({1, 1, 10, 12}),
                     F::InterpolateFuncOptions().size(std::vector<int64_t>{40, 48}).mode(torch::kBilinear).align_corners(false))
          .view({40, 48}) > 0;
  ASSERT_EQ(mask.size(), cv::Size(48, 40));
  int differences = 0;
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 48; ++x) differences += (mask.at<uint8_t>(y, x) == 255) != expected[y][x].item<bool>();
  EXPECT_EQ(differences, 0);
  EXPECT_GT(cv::countNonZero(mask), 10 * 10);  // 3x3 positive logits reach ~1.1 px past their centres
  EXPECT_TRUE(resample_mask(cv::Mat(4, 4, CV_32F, cv::Scalar(-1)), 0.25, 0.25, cv::Size(16, 16)).empty());
}

TEST(Segmenter, ResampledMaskOfACropWithItsOffsetEqualsTheWholeMap) {
  torch::Tensor logits = torch::full({10, 12}, -2.5f);
  logits.index_put_({torch::indexing::Slice(3, 6), torch::indexing::Slice(4, 7)}, 1.0f);
  const cv::Mat whole(10, 12, CV_32F, logits.data_ptr<float>());
  const cv::Mat crop = whole(cv::Rect(2, 1, 9, 8));  // the block stays clear of the crop's border
  const cv::Mat expected = resample_mask(whole, 0.25, 0.25, cv::Size(48, 40));
  const cv::Mat shifted = resample_mask(crop, 0.25, 0.25, cv::Size(48, 40), cv::Point2d(2, 1));
  ASSERT_EQ(shifted.size(), expected.size());
  EXPECT_EQ(cv::countNonZero(shifted != expected), 0);
  EXPECT_GE(cv::countNonZero(shifted), 10 * 10);
}

TEST(Segmenter, TilesCoverTheImageOverlapAndOwnEveryPixelOnce) {
  const std::vector<Tile> whole = plan_tiles(cv::Size(1920, 1200), 0, 128);
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].region, cv::Rect(0, 0, 1920, 1200));

  const cv::Size image(1920, 1200);
  const std::vector<Tile> tiles = plan_tiles(image, 384, 128);
  EXPECT_EQ(tiles.size(), 7u * 5u);  // 1 + ceil((1920 - 384) / 256) columns, 1 + ceil((1200 - 384) / 256) rows
  cv::Mat covered = cv::Mat::zeros(image, CV_32S), owners = cv::Mat::zeros(image, CV_32S);
  for (const Tile& t : tiles) {
    ASSERT_EQ(t.region & cv::Rect(cv::Point(0, 0), image), t.region);
    EXPECT_EQ(t.region.size(), cv::Size(384, 384));
    covered(t.region) += 1;
    for (int y = t.region.y; y < t.region.y + t.region.height; ++y)
      for (int x = t.region.x; x < t.region.x + t.region.width; ++x)
        if (x + 0.5 >= t.owned_x_lo && x + 0.5 < t.owned_x_hi && y + 0.5 >= t.owned_y_lo && y + 0.5 < t.owned_y_hi)
          owners.at<int>(y, x) += 1;
  }
  double lowest = 0;
  cv::minMaxLoc(covered, &lowest);
  EXPECT_GE(lowest, 1);
  EXPECT_EQ(cv::countNonZero(owners != 1), 0);
  // Neighbours overlap by at least the requested margin, so flakes up to half of it sit whole in their owner.
  for (size_t i = 0; i + 1 < 7; ++i) EXPECT_GE(tiles[i].region.br().x - tiles[i + 1].region.x, 128);
}

TEST(Segmenter, TiledPredictReportsEachTilesMasksOnceAtTheirPlace) {
  // Every query of the constant model covers its whole tile; each tile owns its centre, so every tile
  // reports all its queries, and the masks are exactly the tiles.
  SegmenterOptions o = tiny_segmenter_options();
  o.inference_scale = 1.0;
  o.inference_mask_nms = 0;
  o.inference_tile = 64;
  o.inference_tile_overlap = 16;
  const Mask2Former model = constant_mask_model(o, 2.0);
  const cv::Mat image(100, 150, CV_8UC3, cv::Scalar(100, 140, 90));
  const std::vector<Tile> tiles = plan_tiles(image.size(), 64, 16);
  const auto instances = Segmenter(model).predict(image);
  ASSERT_EQ(instances.size(), tiles.size() * static_cast<size_t>(o.decoder.queries));
  size_t matched = 0;
  for (const auto& instance : instances) {
    EXPECT_NEAR(instance.score, 1.0 / (1.0 + std::exp(-2.0)), 1e-4);
    for (const Tile& t : tiles) {
      cv::Mat expected = cv::Mat::zeros(image.size(), CV_8U);
      expected(t.region).setTo(255);
      if (cv::countNonZero(instance.mask != expected) == 0) ++matched;
    }
  }
  EXPECT_EQ(matched, instances.size());
}

TEST(Mask2Former, SubstrateNormalisationIgnoresExposureAndWhiteBalance) {
  // Per-channel gains (exposure x white balance) scale pixels and substrate alike: the network input, and so
  // every output, stays the same. With fixed normalisation it changes.
  SegmenterOptions o = tiny_segmenter_options();
  o.normalisation = "substrate";
  Mask2Former model = seeded_model(o);
  model->eval();
  torch::manual_seed(3);
  const torch::Tensor image = torch::rand({1, 3, 64, 64}) * 150 + 50;
  const torch::Tensor gains = torch::tensor({1.2f, 0.8f, 1.1f}).view({1, 3, 1, 1});
  torch::NoGradGuard no_grad;
  const SegmenterOutput a = model->forward(image), b = model->forward(image * gains);
  EXPECT_LT((a.masks - b.masks).abs().max().item<float>(), 1e-3);
  EXPECT_LT((a.logits - b.logits).abs().max().item<float>(), 1e-3);

  o.normalisation = "fixed";
  Mask2Former fixed = seeded_model(o);
  fixed->eval();
  EXPECT_GT((fixed->forward(image).masks - fixed->forward(image * gains).masks).abs().max().item<float>(), 1e-2);

  o.normalisation = "median";
  EXPECT_THROW(o.validate("x"), Error);
}

TEST(Segmenter, MaskNmsKeepsTheBestOfOverlappingMasks) {
  const auto box_mask = [](cv::Rect r) {
    cv::Mat m = cv::Mat::zeros(50, 50, CV_8U);
    m(r).setTo(255);
    return m;
  };
  // b overlaps a with IoU 0.6, c overlaps a with IoU 0.25, d is apart.
  std::vector<InstanceMask> sorted{{box_mask({0, 0, 20, 10}), 0.9f, 0},
                                   {box_mask({0, 0, 20, 6}), 0.8f, 0},
                                   {box_mask({0, 6, 20, 6}), 0.7f, 0},
                                   {box_mask({30, 30, 10, 10}), 0.6f, 0}};
  const auto kept = suppress_duplicates(sorted, 0.5);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);
  EXPECT_FLOAT_EQ(kept[1].score, 0.7f);
  EXPECT_FLOAT_EQ(kept[2].score, 0.6f);
  EXPECT_EQ(suppress_duplicates(sorted, 0.2).size(), 2u);
  EXPECT_EQ(suppress_duplicates(sorted, 1.0).size(), 4u);
  // In predict: the constant model's identical queries collapse to one mask.
  SegmenterOptions o = tiny_segmenter_options();
  o.inference_mask_nms = 0.5;
  EXPECT_EQ(Segmenter(constant_mask_model(o, 2.0)).predict(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(120))).size(), 1u);
}
