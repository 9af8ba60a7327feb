// The AMM / MLP heads: spectral normalisation, tensor files, loading MaskTerial's directories, GDA training,
// out-of-distribution flagging.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/classify/network_training.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/pipeline/detector.hpp"
#include "maskterial/serialize/npy.hpp"
#include "maskterial/serialize/state_dict.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "cli_test_helpers.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using maskterial::cli_test::fresh_dir;

namespace {

const std::string kFixture = std::string(MASKTERIAL_TEST_DATA) + "/amm_maskterial";
const std::string kShared = MASKTERIAL_SHARED_DATA;

// Gaussian blobs in contrast space: background at 0 and graphene-like layer classes, darker with thickness.
ContrastSamples blobs(const std::vector<int64_t>& labels, size_t per_class, uint64_t seed) {
  static const std::map<int64_t, Contrast> centres = {{0, {0, 0, 0}},
                                                      {1, {-0.09f, -0.145f, -0.13f}},
                                                      {2, {-0.17f, -0.27f, -0.24f}},
                                                      {3, {-0.24f, -0.37f, -0.33f}},
                                                      {7, {0.25f, 0.10f, -0.30f}}};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.012f);
  ContrastSamples out;
  for (int64_t label : labels)
    for (size_t i = 0; i < per_class; ++i) {
      const Contrast& c = centres.at(label);
      out.add({c[0] + noise(rng), c[1] + noise(rng), c[2] + noise(rng)}, label);
    }
  return out;
}

NetworkTrainingOptions quick_options(NetworkClassifier::Head head) {
  NetworkTrainingOptions o = NetworkTrainingOptions::defaults(head);
  o.iterations = 150;
  o.batch_size = 2000;
  o.test_interval = 50;
  o.show_progress = false;
  o.seed = 3;
  return o;
}

double largest_singular_value(const torch::Tensor& w) { return torch::linalg_svdvals(w.to(torch::kFloat64)).max().item<double>(); }

}  // namespace

TEST(SpectralLinear, BoundsLargestSingularValueByCoeff) {
  torch::manual_seed(1);
  SpectralLinear layer(16, 16, 0.5, 5);
  {
    torch::NoGradGuard no_grad;
    layer->weight_orig.mul_(10);  // σ far above coeff
  }
  layer->train();
  for (int i = 0; i < 10; ++i) layer->forward(torch::randn({4, 16}));
  EXPECT_LE(largest_singular_value(layer->effective_weight().detach()), 0.5 + 1e-4);
  EXPECT_NEAR(largest_singular_value(layer->effective_weight().detach()), 0.5, 1e-3);
  EXPECT_NEAR(layer->weight_sigma.item<double>(), largest_singular_value(layer->weight_orig.detach()), 1e-3);

  // Soft normalisation: a layer already below coeff is left as it is.
  SpectralLinear small(3, 16, 0.5, 5);
  {
    torch::NoGradGuard no_grad;
    small->weight_orig.mul_(0.01);
  }
  small->train();
  for (int i = 0; i < 5; ++i) small->forward(torch::randn({4, 3}));
  EXPECT_TRUE(torch::allclose(small->effective_weight(), small->weight_orig));
}

TEST(Npy, RoundTripsAndRefusesBadFiles) {
  const torch::Tensor t = torch::arange(24, torch::kFloat32).reshape({2, 3, 4}) / 7;
  const std::string bytes = npy::serialize(t);
  EXPECT_EQ(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }"), 10u);
  EXPECT_EQ((bytes.size() - t.numel() * 4) % 64, 0u);  // data aligned as numpy aligns it
  EXPECT_TRUE(torch::equal(npy::parse(bytes, "t.npy"), t));
  EXPECT_EQ(npy::parse(npy::serialize(torch::ones({5})), "v.npy").sizes(), torch::IntArrayRef({5}));
  try {
    npy::parse(bytes.substr(0, bytes.size() - 3), "cut.npy");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cut.npy"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos);
  }
  EXPECT_THROW(npy::parse("hello", "x.npy"), Error);
  std::string big_endian = bytes;
  big_endian.replace(big_endian.find("<f4"), 3, ">f4");
  EXPECT_THROW(npy::parse(big_endian, "be.npy"), Error);
}

TEST(StateDict, ReadsPyTorchSavedStateDictAndRoundTrips) {
  const StateDict dict = load_state_dict(kFixture + "/model.pth");
  // MaskTerial's spectral-norm keys, in the module's order.
  ASSERT_GE(dict.size(), 4u);
  EXPECT_EQ(dict[0].first, "first.weight_orig");
  const torch::Tensor& u = find_tensor(dict, "residuals.3.weight_u", "model.pth");
  EXPECT_EQ(u.sizes(), torch::IntArrayRef({16}));
  EXPECT_NEAR(u.norm().item<double>(), 1.0, 1e-5);
  EXPECT_EQ(find_tensor(dict, "last.weight", "model.pth").sizes(), torch::IntArrayRef({4, 16}));

  const fs::path dir = fresh_dir("mt_state_dict");
  save_state_dict((dir / "again.pth").string(), dict);
  const StateDict again = load_state_dict((dir / "again.pth").string());
  ASSERT_EQ(again.size(), dict.size());
  for (const auto& [name, tensor] : dict) EXPECT_TRUE(torch::equal(find_tensor(again, name, "again"), tensor)) << name;
}

TEST(StateDict, RefusesCorruptFilesWithTheirName) {
  const fs::path dir = fresh_dir("mt_state_dict_bad");
  const std::string good = read_file(kFixture + "/model.pth");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"text.pth", "not a zip archive at all"},
      {"cut.pth", good.substr(0, good.size() / 2)},
      {"empty.pth", ""}};
  for (const auto& [name, content] : cases) {
    write_file_atomic((dir / name).string(), content);
    try {
      load_state_dict((dir / name).string());
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST(NetworkClassifier, MaskTerialDirectoryReproducesReferenceOutputs) {
  const ClassifierPtr classifier = load_classifier(kFixture);
  ASSERT_EQ(classifier->type(), "amm");
  ASSERT_EQ(classifier->classes().size(), 3u);
  EXPECT_EQ(classifier->default_threshold(), 10.0);
  const auto& amm = dynamic_cast<const NetworkClassifier&>(*classifier);
  const nlohmann::json reference = read_json(kFixture + "/reference_outputs.json");
  std::vector<std::array<float, 3>> contrasts;
  for (const auto& c : reference["contrasts"]) contrasts.push_back({c[0].get<float>(), c[1].get<float>(), c[2].get<float>()});

  const torch::Tensor embedding = amm.embed(torch::from_blob(contrasts.data(), {10, 3}, torch::kFloat32));
  for (int i = 0; i < 10; ++i)
    for (int j = 0; j < 16; ++j)
      EXPECT_NEAR(embedding[i][j].item<double>(), reference["embeddings"][i][j].get<double>(), 1e-5);

  std::vector<float> distances;
  const std::vector<uint8_t> classes = classifier->classify_contrasts(contrasts, 10.0, &distances);
  const torch::Tensor all = amm.output_distances(torch::from_blob(contrasts.data(), {(int64_t)contrasts.size(), 3}, torch::kFloat32));
  size_t unknown = 0;
  for (size_t i = 0; i < contrasts.size(); ++i) {
    EXPECT_EQ(classes[i], reference["classes"][i].get<int>()) << "contrast " << i;
    for (int k = 0; k < 4; ++k) {
      const double expected = reference["distances"][i][k].get<double>();
      EXPECT_NEAR(all[i][k].item<double>(), expected, 1e-4 * std::max(1.0, expected)) << i << "," << k;
    }
    unknown += classes[i] == 0 && distances[i] > 10;
  }
  EXPECT_GT(unknown, 10u);  // the random probes far from every class are flagged
}

TEST(NetworkClassifier, MaskTerialDirectoryGivesTheOriginalClassMap) {
  const nlohmann::json reference = read_json(kFixture + "/reference_outputs.json");
  const std::string image_path = kShared + "/maskterial-demo/images/" + reference["image"].get<std::string>();
  REQUIRE_SHARED_DATA(fs::exists(image_path), "shared data not found");
  const Detector detector(load_classifier(kFixture), {});
  Bgr background{};
  const PixelClassification result = detector.classify(load_image(image_path), image_path, &background);
  for (int c = 0; c < 3; ++c)
    EXPECT_EQ(round_to_half(static_cast<float>(background[c])), reference["background_bgr"][c].get<float>());
  const cv::Mat expected = cv::imread(kFixture + "/reference_class_map.png", cv::IMREAD_UNCHANGED);
  ASSERT_EQ(expected.size(), result.labels.size());
  const int differing = cv::countNonZero(expected != result.labels);
  std::printf("  %d of %d pixels differ from the reference class map\n", differing, expected.rows * expected.cols);
  EXPECT_LE(differing, 5);  // only float rounding at class boundaries may differ
  for (int id = 0; id < 4; ++id)
    EXPECT_NEAR(cv::countNonZero(result.labels == id), reference["class_pixels"][id].get<int>(), 5) << id;
}

TEST(NetworkTraining, GdaFitsEmbeddingGaussiansAndIsDeterministic) {
  const ContrastSamples train = blobs({0, 1, 2}, 600, 11);
  const auto a = train_network(NetworkClassifier::Head::Gda, train, nullptr, quick_options(NetworkClassifier::Head::Gda), {});
  const auto b = train_network(NetworkClassifier::Head::Gda, train, nullptr, quick_options(NetworkClassifier::Head::Gda), {});
  EXPECT_TRUE(torch::equal(a->loc(), b->loc()));
  EXPECT_TRUE(torch::equal(a->cov(), b->cov()));

  // loc / cov are the mean and unbiased covariance of each class's embeddings.
  std::vector<std::array<float, 3>> class1;
  for (size_t i = 0; i < train.size(); ++i)
    if (train.labels[i] == 1) class1.push_back(train.contrasts[i]);
  const torch::Tensor e = a->embed(torch::from_blob(class1.data(), {(int64_t)class1.size(), 3}, torch::kFloat32));
  const torch::Tensor centred = e - e.mean(0);
  EXPECT_TRUE(torch::allclose(a->loc()[1], e.mean(0), 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(a->cov()[1], centred.t().mm(centred) / (e.size(0) - 1), 1e-3, 1e-6));
  EXPECT_EQ(a->classes().size(), 2u);
}

TEST(NetworkTraining, AmmFlagsAClassItNeverSawWhereTheMlpMislabels) {
  const ContrastSamples train = blobs({0, 1, 2, 3}, 800, 5);
  const ContrastSamples unseen = blobs({7}, 300, 6);  // a material / thickness absent from training
  const ContrastSamples seen = blobs({1, 2, 3}, 300, 7);
  const auto amm = train_network(NetworkClassifier::Head::Gda, train, nullptr, quick_options(NetworkClassifier::Head::Gda), {});
  const auto mlp = train_network(NetworkClassifier::Head::Softmax, train, nullptr, quick_options(NetworkClassifier::Head::Softmax), {});

  const auto fraction = [](const std::vector<uint8_t>& got, const ContrastSamples& truth) {
    size_t hit = 0;
    for (size_t i = 0; i < got.size(); ++i) hit += got[i] == truth.labels[i];
    return static_cast<double>(hit) / got.size();
  };
  const auto amm_seen = amm->classify_contrasts(seen.contrasts, amm->default_threshold());
  EXPECT_GT(fraction(amm_seen, seen), 0.97);
  const auto amm_unseen = amm->classify_contrasts(unseen.contrasts, amm->default_threshold());
  const size_t unknown = std::count(amm_unseen.begin(), amm_unseen.end(), 0);
  EXPECT_GT(unknown, 0.95 * amm_unseen.size());
  const auto mlp_unseen = mlp->classify_contrasts(unseen.contrasts, mlp->default_threshold());
  const size_t mlp_background = std::count(mlp_unseen.begin(), mlp_unseen.end(), 0);
  std::printf("  unseen class: AMM flags %zu of %zu as unknown; the MLP, which cannot say unknown, calls %zu "
              "background and %zu a layer class\n", unknown, amm_unseen.size(), mlp_background,
              mlp_unseen.size() - mlp_background);
  // Flake level: the unseen class's mean contrast is far from every class in the embedding.
  const std::array<double, 3> unseen_mean{0.25, 0.10, -0.30}, seen_mean{-0.17, -0.27, -0.24};
  EXPECT_GT(amm->flake_uncertainty(unseen_mean, 3), 10.0);
  EXPECT_LT(amm->flake_uncertainty(seen_mean, 2), 3.0);
  const double p = mlp->flake_uncertainty(seen_mean, 2);
  EXPECT_GE(p, 0.0);
  EXPECT_LT(p, 0.1);
}

TEST(NetworkClassifier, SavedDirectoryLoadsAsOursAndAsMaskTerials) {
  const ContrastSamples train = blobs({0, 1, 2}, 400, 9);
  const auto amm = train_network(NetworkClassifier::Head::Gda, train, nullptr, quick_options(NetworkClassifier::Head::Gda), {});
  const fs::path dir = fresh_dir("mt_amm_save") / "model";
  amm->save(dir.string());
  for (const char* f : {"model.json", "meta_data.json", "model.pth", "loc.npy", "cov.npy"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  const ClassifierPtr ours = load_classifier(dir.string());
  fs::remove(dir / "model.json");  // what MaskTerial's Python code reads
  const ClassifierPtr theirs = load_classifier(dir.string());
  const ContrastSamples probe = blobs({0, 1, 2, 7}, 50, 10);
  std::vector<float> d0, d1, d2;
  EXPECT_EQ(amm->classify_contrasts(probe.contrasts, 10, &d0), ours->classify_contrasts(probe.contrasts, 10, &d1));
  EXPECT_EQ(amm->classify_contrasts(probe.contrasts, 10), theirs->classify_contrasts(probe.contrasts, 10, &d2));
  EXPECT_EQ(d0, d1);
  EXPECT_EQ(d0, d2);

  const auto mlp = train_network(NetworkClassifier::Head::Softmax, train, nullptr, quick_options(NetworkClassifier::Head::Softmax), {});
  const fs::path mlp_dir = fresh_dir("mt_mlp_save") / "model";
  mlp->save(mlp_dir.string());
  EXPECT_FALSE(fs::exists(mlp_dir / "loc.npy"));
  const ClassifierPtr mlp_again = load_classifier(mlp_dir.string());
  EXPECT_EQ(mlp_again->type(), "mlp");
  EXPECT_EQ(mlp->classify_contrasts(probe.contrasts, 1e9), mlp_again->classify_contrasts(probe.contrasts, 1e9));
}

TEST(NetworkClassifier, RefusesBrokenModelDirectories) {
  const fs::path dir = fresh_dir("mt_amm_broken");
  for (const char* f : {"meta_data.json", "model.pth", "loc.npy", "cov.npy"}) fs::copy_file(kFixture + "/" + f, dir / f);
  write_file_atomic((dir / "cov.npy").string(), npy::serialize(torch::zeros({4, 16, 16}) - torch::eye(16)));
  EXPECT_THROW(load_classifier(dir.string()), Error);  // not positive definite
  write_file_atomic((dir / "cov.npy").string(), npy::serialize(torch::zeros({3, 16, 16})));
  EXPECT_THROW(load_classifier(dir.string()), Error);  // wrong class count
  fs::copy_file(kFixture + "/cov.npy", dir / "cov.npy", fs::copy_options::overwrite_existing);
  write_file_atomic((dir / "meta_data.json").string(), R"({"train_config": {"model_arch": {"embedding_dim": 8}}, "train_mean": [0,0,0], "train_std": [1,1,1]})");
  try {
    load_classifier(dir.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.pth"), std::string::npos) << e.what();  // shapes disagree
  }
}
