// `maskterial classify`: the per-pixel class map of one image as an 8-bit PNG (pixel = class id, 0 =
// background or unknown), optionally with a distance map, for checking a classifier by eye or by script.
#include <spdlog/spdlog.h>

#include <opencv2/core.hpp>

#include "commands.hpp"
#include "detector_options.hpp"
#include "maskterial/image/io.hpp"
#include "maskterial/util/files.hpp"

namespace maskterial::cli {
namespace {

struct ClassifyArgs {
  std::string image, out, distance_out;
  DetectorCliOptions detector;
};

int run(const ClassifyArgs& args) {
  const auto detector = args.detector.build();
  const cv::Mat image = load_image(args.image);
  Bgr background{};
  const PixelClassification result = detector->classify(image, args.image, &background);
  write_image_atomic(args.out, result.labels);
  if (!args.distance_out.empty()) {
    // 16-bit PNG: distance × 100, so 10 standard deviations read as 1000.
    cv::Mat scaled;
    result.distance.convertTo(scaled, CV_16U, 100.0);
    write_image_atomic(args.distance_out, scaled);
  }
  std::string counts;
  std::vector<int> histogram(256, 0);
  for (int y = 0; y < result.labels.rows; ++y)
    for (int x = 0; x < result.labels.cols; ++x) ++histogram[result.labels.at<uint8_t>(y, x)];
  for (int id = 0; id < 256; ++id)
    if (histogram[id]) counts += " " + std::to_string(id) + ":" + std::to_string(histogram[id]);
  spdlog::info("{}: background BGR ({:.2f}, {:.2f}, {:.2f}), pixels per class{}", args.image, background[0],
               background[1], background[2], counts);
  return kOk;
}

}  // namespace

Runner add_classify(CLI::App& app) {
  auto args = std::make_shared<ClassifyArgs>();
  CLI::App* cmd = app.add_subcommand("classify", "Write the per-pixel class map of an image (8-bit PNG, pixel = class id)");
  add_image_limit(*cmd);
  cmd->add_option("image", args->image, "Image file")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--out", args->out, "Output PNG (pixel = class id, 0 = background or unknown)")->required();
  cmd->add_option("--distance-out", args->distance_out, "Also write the distance to the nearest class (16-bit PNG, x100)");
  args->detector.add_to(*cmd, false);
  return [args] { return run(*args); };
}

}  // namespace maskterial::cli
