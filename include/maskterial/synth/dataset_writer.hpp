#pragma once
// Synthetic datasets on disk (COCO) and in memory (a stream of batches), both made on all cores.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "maskterial/coco/dataset.hpp"
#include "maskterial/synth/generator.hpp"

namespace maskterial::synth {

// Calls work(i) for i in [0, count) on `threads` threads (0 = all cores); rethrows the first exception.
void parallel_for(size_t count, int threads, const std::function<void(size_t)>& work);

// COCO annotations of one sample (image id given, annotation ids 0: numbered by the caller), category =
// layer count, or 1 ("flake") when class_agnostic.
std::vector<coco::Annotation> sample_annotations(const SynthSample& sample, int64_t image_id, bool class_agnostic);
// COCO annotations of one sample's junk objects, category = JunkKind (ids 0, numbered by the caller).
std::vector<coco::Annotation> junk_annotations(const SynthSample& sample, int64_t image_id);

struct SynthRunOptions {
  size_t count = 100;
  uint64_t seed = 0;
  int threads = 0;          // 0 = all cores
  bool progress = true;
  int png_compression = 1;  // zlib level: 1 is 3x faster than OpenCV's default 3 for ~10% more bytes
};

struct SynthRunSummary {
  size_t images = 0;
  size_t instances = 0;
  std::map<int, size_t> instances_per_class;
  std::map<JunkKind, size_t> junk_per_kind;
  size_t overexposed_images = 0;
  double seconds = 0;
};

// Writes DIR/images/000000.png ..., DIR/annotations.json (categories = layer counts 1..max_layers; file names
// relative to DIR/images, as train-classifier reads them) and DIR/annotations_agnostic.json (one category "flake").
// Both carry an "info" object with the generator config and seed. Image k is generate(seed, k).
// DIR/annotations_junk.json holds the junk (one category per JunkKind, named by junk_kind_name), never a flake:
// negative evidence for a flake score; its images carry "exposure_gain" ([b, g, r], above 1 where a channel was
// overexposed) and "clipped_fraction" (share of pixels at 255 per channel).
SynthRunSummary write_synthetic_dataset(const Generator& generator, const std::string& out_dir,
                                        const SynthRunOptions& options);

// Batches for training without touching disk: batch b holds images b*n .. b*n + n - 1 of the run `seed`, so
// a stream is reproducible and two streams with different seeds never repeat each other's images.
class SynthStream {
 public:
  SynthStream(std::shared_ptr<const Generator> generator, uint64_t seed, int threads = 0);
  std::vector<SynthSample> next_batch(size_t batch_size);
  uint64_t position() const { return next_index_; }  // index of the next image

 private:
  std::shared_ptr<const Generator> generator_;
  uint64_t seed_;
  int threads_;
  uint64_t next_index_ = 0;
};

}  // namespace maskterial::synth
