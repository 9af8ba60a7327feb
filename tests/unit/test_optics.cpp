// Thin-film optics against hand-derived limits, textbook values and contrasts measured on real images.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "maskterial/image/contrast.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/optics/calibration.hpp"
#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "shared_data.hpp"

namespace fs = std::filesystem;
using namespace maskterial;
using namespace maskterial::optics;

namespace {
const std::string kShared = MASKTERIAL_SHARED_DATA;

const Material& graphene() { return find_material("graphene"); }

// Monochromatic contrast at one wavelength, normal incidence.
double contrast_at(const Material& m, int layers, double oxide_nm, double nm) {
  const Layer oxide{sio2_index(nm), oxide_nm};
  const double bare = film_response(1.0, {oxide}, si_index(nm), nm).reflectance;
  const double flake = film_response(1.0, {{m.index(nm), layers * m.layer_nm}, oxide}, si_index(nm), nm).reflectance;
  return flake / bare - 1.0;
}
}  // namespace

TEST(ThinFilm, BareInterfaceIsFresnel) {
  // R = ((n - 1) / (n + 1))^2 at normal incidence; 0.04 for glass.
  EXPECT_NEAR(film_response(1.0, {}, 1.5, 550).reflectance, 0.04, 1e-12);
  const Complex si = si_index(550);
  EXPECT_NEAR(film_response(1.0, {}, si, 550).reflectance, std::norm((1.0 - si) / (1.0 + si)), 1e-12);
}

TEST(ThinFilm, QuarterWaveCoatingCancelsReflection) {
  // n_film = sqrt(n_substrate), optical thickness lambda / 4: the two reflections cancel exactly.
  const double ns = 2.25, nf = 1.5, nm = 600;
  EXPECT_NEAR(film_response(1.0, {{nf, nm / (4 * nf)}}, ns, nm).reflectance, 0.0, 1e-12);
  // Half-wave layer: absent at that wavelength.
  EXPECT_NEAR(film_response(1.0, {{nf, nm / (2 * nf)}}, ns, nm).reflectance,
              film_response(1.0, {}, ns, nm).reflectance, 1e-12);
}

TEST(ThinFilm, LosslessStackConservesEnergy) {
  const std::vector<Layer> stack{{2.1, 37}, {1.46, 280}, {1.8, 5}};
  for (double sin_theta : {0.0, 0.3, 0.6, 0.9})
    for (auto pol : {Polarization::S, Polarization::P}) {
      const FilmResponse r = film_response(1.0, stack, 3.9, 532, sin_theta, pol);
      EXPECT_NEAR(r.reflectance + r.transmittance, 1.0, 1e-12) << sin_theta;
    }
  // An absorbing film only ever takes energy away (the sign convention of k is right).
  const FilmResponse lossy = film_response(1.0, {{Complex(2.6, 1.3), 3.35}}, 1.46, 550);
  EXPECT_LT(lossy.reflectance + lossy.transmittance, 1.0 - 1e-3);
  EXPECT_GT(lossy.reflectance, 0.0);
}

TEST(ThinFilm, ConeAverageReducesToNormalIncidence) {
  const std::vector<Layer> stack{{sio2_index(550), 90}};
  EXPECT_DOUBLE_EQ(cone_reflectance(1.0, stack, si_index(550), 550, 0.0),
                   film_response(1.0, stack, si_index(550), 550).reflectance);
  // Small NA: within O(NA^2) of normal incidence; s and p agree at normal incidence.
  EXPECT_NEAR(cone_reflectance(1.0, stack, si_index(550), 550, 0.05),
              film_response(1.0, stack, si_index(550), 550).reflectance, 1e-3);
  EXPECT_NEAR(film_response(1.0, stack, si_index(550), 550, 0, Polarization::P).reflectance,
              film_response(1.0, stack, si_index(550), 550, 0, Polarization::S).reflectance, 1e-12);
}

TEST(Optics, NoFlakeMeansNoContrast) {
  const OpticalSetup setup;
  for (const auto& m : materials()) {
    const Bgr c = layer_contrast(setup, m, 0);
    EXPECT_EQ(c, (Bgr{0, 0, 0})) << m.name;
    const Bgr thin = film_contrast(setup, {{m.index, 0.0}});
    for (int ch = 0; ch < 3; ++ch) EXPECT_NEAR(thin[ch], 0.0, 1e-12) << m.name;
  }
}

TEST(Optics, GrapheneOn300nmOxideIsTenPercentDarkInGreen) {
  // Blake et al. 2007: on 300 nm SiO2 a monolayer is darkest, by about 10-13%, in green-yellow light, where
  // the bare oxide's reflectance has its interference minimum (2 n d = 1.5 lambda, near 585 nm), and nearly
  // invisible in blue.
  double darkest = 0, darkest_nm = 0;
  for (double nm = 500; nm <= 650; nm += 1) {
    const double c = contrast_at(graphene(), 1, 300, nm);
    if (c < darkest) darkest = c, darkest_nm = nm;
  }
  EXPECT_NEAR(darkest, -0.12, 0.02);
  EXPECT_NEAR(darkest_nm, 590, 15);
  EXPECT_NEAR(contrast_at(graphene(), 1, 300, 570), -0.10, 0.015);
  EXPECT_LT(std::abs(contrast_at(graphene(), 1, 300, 460)), 0.02);
  // Contrast grows with the layer count (few layers: roughly linear).
  EXPECT_NEAR(contrast_at(graphene(), 2, 300, 570), 2 * contrast_at(graphene(), 1, 300, 570), 0.03);
}

TEST(Optics, MonolayerGrapheneOn90nmMatchesTheGrapheneHImages) {
  // Measured on the GrapheneH demo images (see MeasuredOnDemoImage below): about (-0.09, -0.145, -0.13).
  OpticalSetup setup;
  setup.oxide_nm = 90;
  const Bgr c = layer_contrast(setup, graphene(), 1);
  EXPECT_NEAR(c[0], -0.09, 0.02);
  EXPECT_NEAR(c[1], -0.145, 0.02);
  EXPECT_NEAR(c[2], -0.13, 0.02);
  // Darker with every layer in green, all negative.
  for (int n = 1; n < 6; ++n) EXPECT_LT(layer_contrast(setup, graphene(), n + 1)[1], layer_contrast(setup, graphene(), n)[1]);
}

TEST(Optics, MonolayerGrapheneMeasuredOnDemoImage) {
  // The GrapheneH image whose background has the 90 nm oxide's colour; its annotated flake is a monolayer.
  const std::string image_path = kShared + "/maskterial-demo/images/GrapheneH/17294f8a-1df7-427f-b8ed-ab54e1571960.jpg";
  const std::string mask_path = kShared + "/maskterial-demo/instance_masks/GrapheneH/17294f8a-1df7-427f-b8ed-ab54e1571960.png";
  REQUIRE_SHARED_DATA(fs::exists(image_path) || !fs::exists(mask_path), "shared data not found");
  const cv::Mat image = load_image(image_path);
  cv::Mat mask = cv::imread(mask_path, cv::IMREAD_UNCHANGED) == 1;
  cv::erode(mask, mask, cv::getStructuringElement(cv::MORPH_ELLIPSE, {3, 3}), {-1, -1}, 3);
  ASSERT_GT(cv::countNonZero(mask), 500);
  const Bgr background = estimate_background(image);
  const cv::Scalar mean = cv::mean(image, mask);
  OpticalSetup setup;
  const Bgr predicted = layer_contrast(setup, graphene(), 1);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(mean[c] / background[c] - 1.0, predicted[c], 0.015) << "channel " << c;
}

TEST(Optics, MaterialTableIsComplete) {
  for (const char* name : {"graphene", "hBN", "MoS2", "WSe2", "MoSe2", "WS2", "CrI3", "TaS2"}) {
    const Material& m = find_material(name);
    EXPECT_GT(m.layer_nm, 0.3);
    EXPECT_LT(m.layer_nm, 1.0);
    EXPECT_FALSE(m.source.empty());
    for (double nm = 400; nm <= 750; nm += 50) {
      const Complex n = m.index(nm);
      EXPECT_GT(n.real(), 1.0) << name << " " << nm;
      EXPECT_GE(n.imag(), 0.0) << name << " " << nm;
    }
  }
  EXPECT_THROW(find_material("unobtainium"), Error);
  // hBN is transparent: its contrast is small; TMD monolayers are clearly visible.
  const OpticalSetup setup;
  EXPECT_LT(std::abs(layer_contrast(setup, find_material("hbn"), 1)[1]), 0.02);
  EXPECT_LT(layer_contrast(setup, find_material("wse2"), 1)[1], -0.1);
  // Sellmeier SiO2 at 587.6 nm (the d line): 1.4585.
  EXPECT_NEAR(sio2_index(587.6).real(), 1.4585, 1e-4);
}

TEST(Optics, SpectraFromFiles) {
  const std::string lamp = (fs::temp_directory_path() / "mt_lamp.txt").string();
  write_file_atomic(lamp, "# flat lamp\n400, 1\n750, 1\n");
  Spectra spectra = default_spectra();
  load_lamp(spectra, lamp);
  for (double v : spectra.lamp) EXPECT_DOUBLE_EQ(v, 1.0);
  // A camera that only sees 550 nm reproduces the monochromatic contrast in every channel.
  const std::string camera = (fs::temp_directory_path() / "mt_camera.txt").string();
  write_file_atomic(camera, "545 0 0 0\n550 1 1 1\n555 0 0 0\n");
  load_camera(spectra, camera);
  OpticalSetup setup;
  setup.spectra = spectra;
  setup.oxide_nm = 300;
  EXPECT_NEAR(layer_contrast(setup, graphene(), 1)[1], contrast_at(graphene(), 1, 300, 550), 1e-12);
  write_file_atomic(camera, "400 1 2\n");
  try {
    load_camera(spectra, camera);
    FAIL() << "malformed camera file accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(camera), std::string::npos);
  }
}

TEST(Calibration, RecoversOxideAndToneResponse) {
  OpticalSetup truth;
  truth.oxide_nm = 96.5;
  truth.contrast_gamma = {0.9, 1.1, 1.0};
  std::vector<MeasuredContrast> measured;
  for (int n = 1; n <= 4; ++n) measured.push_back({n, layer_contrast(truth, graphene(), n), 1000});
  CalibrationOptions options;
  options.gamma_prior = 0;
  const Calibration fit = calibrate(graphene(), measured, OpticalSetup{}, options);
  EXPECT_NEAR(fit.setup.oxide_nm, 96.5, 0.11);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(fit.setup.contrast_gamma[c], truth.contrast_gamma[c], 0.01);
  EXPECT_LT(fit.rms_residual, 2e-3);
  EXPECT_THROW(calibrate(graphene(), {}, OpticalSetup{}), Error);
}

TEST(Calibration, FitsThe2DMatGmmGrapheneClasses) {
  const std::string path = kShared + "/gmm-params/Graphene_GMM.json";
  REQUIRE_SHARED_DATA(fs::exists(path), "shared data not found");
  const auto measured = gmm_contrasts(GmmClassifier::load(path));
  ASSERT_EQ(measured.size(), 4u);
  OpticalSetup start;
  const double before = calibrate(graphene(), measured, start, {89.99, 90.01, 1e9}).rms_residual;
  const Calibration fit = calibrate(graphene(), measured, start);
  EXPECT_LT(before, 0.02);  // uncalibrated physics is already close
  EXPECT_LT(fit.rms_residual, 0.006);
  EXPECT_LT(fit.rms_residual, before);
}

TEST(Calibration, ZeroShotGmmHasOneClassPerLayerCount) {
  const OpticalSetup setup;
  const GmmClassifier gmm = physics_gmm(setup, graphene(), 5, 0.02);
  ASSERT_EQ(gmm.gaussians().size(), 5u);
  for (int n = 1; n <= 5; ++n) {
    const auto& g = gmm.gaussians()[n - 1];
    EXPECT_EQ(g.name, std::to_string(n));
    const Bgr c = layer_contrast(setup, graphene(), n);
    for (int ch = 0; ch < 3; ++ch) EXPECT_DOUBLE_EQ(g.mean[ch], c[ch]);
    EXPECT_NEAR(gmm.distance({c[0], c[1], c[2]}, n - 1), 0.0, 1e-9);
  }
  EXPECT_THROW(physics_gmm(setup, graphene(), 0, 0.02), Error);
}
