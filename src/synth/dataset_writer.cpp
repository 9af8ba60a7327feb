#include "maskterial/synth/dataset_writer.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include <opencv2/imgcodecs.hpp>

#include "maskterial/util/error.hpp"
#include "maskterial/util/files.hpp"
#include "maskterial/util/progress.hpp"

namespace fs = std::filesystem;

namespace maskterial::synth {

void parallel_for(size_t count, int threads, const std::function<void(size_t)>& work) {
  const size_t workers = std::min<size_t>(
      threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency()), std::max<size_t>(1, count));
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex mutex;
  auto loop = [&] {
    for (size_t i; (i = next.fetch_add(1)) < count;) {
      try {
        work(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        next = count;  // stop handing out work
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(loop);
  loop();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

namespace {

// One annotation per nonzero id of a label image; category_of(id) gives its category.
template <class Category>
std::vector<coco::Annotation> label_annotations(const cv::Mat& ids, int64_t image_id, Category&& category_of) {
  std::vector<coco::Annotation> out;
  for (const auto& [id, rle] : coco::encode_labels(ids)) {
    coco::Annotation a;
    a.image_id = image_id;
    a.category_id = category_of(id);
    a.segmentation = rle;
    a.area = static_cast<double>(coco::area(rle));
    a.bbox = coco::to_bbox(rle);
    out.push_back(std::move(a));
  }
  return out;
}

// What the junk file says about an image's exposure.
nlohmann::json exposure_of(const SynthSample& sample) {
  std::vector<double> clipped;
  std::vector<cv::Mat> channels;
  cv::split(sample.image, channels);
  for (const cv::Mat& channel : channels)
    clipped.push_back(cv::countNonZero(channel == 255) / static_cast<double>(channel.total()));
  const cv::Vec3d& g = sample.exposure_gain;
  return {{"exposure_gain", {g[0], g[1], g[2]}}, {"clipped_fraction", clipped}};
}

}  // namespace

std::vector<coco::Annotation> sample_annotations(const SynthSample& sample, int64_t image_id, bool class_agnostic) {
  return label_annotations(sample.instance_ids, image_id,
                           [&](int64_t id) { return class_agnostic ? 1 : sample.classes.at(static_cast<size_t>(id - 1)); });
}

std::vector<coco::Annotation> junk_annotations(const SynthSample& sample, int64_t image_id) {
  return label_annotations(sample.junk_ids, image_id,
                           [&](int64_t id) { return static_cast<int>(sample.junk_kinds.at(static_cast<size_t>(id - 1))); });
}

SynthRunSummary write_synthetic_dataset(const Generator& generator, const std::string& out_dir,
                                        const SynthRunOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path images_dir = fs::path(out_dir) / "images";
  std::error_code ec;
  fs::create_directories(images_dir, ec);
  if (ec) throw file_error(images_dir.string(), "cannot create folder: " + ec.message());

  const SynthConfig& config = generator.config();
  std::vector<std::vector<coco::Annotation>> per_image(options.count), junk_per_image(options.count);
  std::vector<nlohmann::json> exposure(options.count);
  std::vector<char> overexposed(options.count, 0);
  ProgressBar bar(options.count, "synth", options.progress);
  parallel_for(options.count, options.threads, [&](size_t i) {
    const SynthSample sample = generator.generate(options.seed, i);
    char name[32];
    std::snprintf(name, sizeof name, "%06zu.png", i);
    std::vector<uint8_t> png;
    if (!cv::imencode(".png", sample.image, png, {cv::IMWRITE_PNG_COMPRESSION, options.png_compression}))
      throw Error(std::string(name) + ": PNG encoding failed");
    write_file_atomic((images_dir / name).string(), std::string(png.begin(), png.end()));
    per_image[i] = sample_annotations(sample, static_cast<int64_t>(i) + 1, false);
    junk_per_image[i] = junk_annotations(sample, static_cast<int64_t>(i) + 1);
    exposure[i] = exposure_of(sample);
    overexposed[i] = sample.exposure_gain != cv::Vec3d(1, 1, 1);
    bar.advance();
  });
  bar.finish();

  coco::Dataset layered, agnostic, junk;
  for (int n = 1; n <= config.max_layers; ++n) layered.categories.push_back({n, std::to_string(n), "flake"});
  agnostic.categories.push_back({1, "flake", "flake"});
  for (int k = 1; k <= kJunkKinds; ++k) junk.categories.push_back({k, junk_kind_name(static_cast<JunkKind>(k)), "junk"});
  SynthRunSummary summary;
  int64_t annotation_id = 1, junk_id = 1;
  for (size_t i = 0; i < options.count; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06zu.png", i);
    const coco::ImageInfo info{static_cast<int64_t>(i) + 1, name, config.width, config.height};
    layered.images.push_back(info);
    agnostic.images.push_back(info);
    junk.images.push_back(info);
    for (auto& a : per_image[i]) {
      a.id = annotation_id++;
      ++summary.instances_per_class[static_cast<int>(a.category_id)];
      layered.annotations.push_back(a);
      a.category_id = 1;
      agnostic.annotations.push_back(std::move(a));
    }
    for (auto& a : junk_per_image[i]) {
      a.id = junk_id++;
      ++summary.junk_per_kind[static_cast<JunkKind>(a.category_id)];
      junk.annotations.push_back(std::move(a));
    }
    if (overexposed[i]) ++summary.overexposed_images;
  }
  const nlohmann::json info = {{"description", "maskterial synthetic flakes"},
                               {"seed", options.seed},
                               {"generator", config.to_json()}};
  for (auto [dataset, file] : {std::pair{&layered, "annotations.json"}, std::pair{&agnostic, "annotations_agnostic.json"},
                               std::pair{&junk, "annotations_junk.json"}}) {
    nlohmann::json json = coco::dataset_to_json(*dataset);
    json["info"] = info;
    if (dataset == &junk)
      for (size_t i = 0; i < options.count; ++i) json["images"][i].update(exposure[i]);
    write_json_atomic((fs::path(out_dir) / file).string(), json, -1);
  }
  summary.images = options.count;
  summary.instances = layered.annotations.size();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

SynthStream::SynthStream(std::shared_ptr<const Generator> generator, uint64_t seed, int threads)
    : generator_(std::move(generator)), seed_(seed), threads_(threads) {
  if (!generator_) throw Error("SynthStream needs a generator");
}

std::vector<SynthSample> SynthStream::next_batch(size_t batch_size) {
  std::vector<SynthSample> batch(batch_size);
  const uint64_t first = next_index_;
  parallel_for(batch_size, threads_, [&](size_t i) { batch[i] = generator_->generate(seed_, first + i); });
  next_index_ += batch_size;
  return batch;
}

}  // namespace maskterial::synth
