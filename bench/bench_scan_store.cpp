// The review page's queries on a chip-sized scan database: 20,000 images and 200,000 candidates (generated
// once per run into a temporary file), first and deep pages by each sort key, filtered pages, a verdict. The
// issue's budget is 200 ms per query. And re-ranking a scan of 10,000 candidates (fit + rescore + store).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "maskterial/score/evidence.hpp"
#include "maskterial/store/rerank.hpp"
#include "maskterial/store/scan_store.hpp"

namespace {

using namespace maskterial::store;

constexpr int kImages = 20000;
constexpr int kPerImage = 10;

struct Chip {
  std::unique_ptr<ScanStore> store;
  ScanInfo scan;
};

// A scan of image_count images with kPerImage candidates each, in a fresh temporary database.
Chip generate(const std::string& file, int image_count) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / file;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  Chip out{open_sqlite_scan_store(path.string()), {}};
  out.scan = out.store->open_scan("chip", {"/chip"}, {}, 0.3844, nullptr);
  std::vector<ImageRecord> images(image_count);
  for (int k = 0; k < image_count; ++k) {
    images[k].path = "/chip/img" + std::to_string(k) + ".jpg";
    images[k].name = "img" + std::to_string(k) + ".jpg";
  }
  out.store->add_images(out.scan.id, images);
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> unit(0, 1);
  const std::string thumbnail(4000, 'j');  // about a real thumbnail's size
  for (const ImageRecord& image : out.store->pending_images(out.scan.id)) {
    std::vector<Candidate> candidates(kPerImage);
    for (Candidate& c : candidates) {
      c.class_id = 1 + static_cast<int>(unit(rng) * 4);
      c.class_name = std::to_string(c.class_id);
      c.score = c.detector_score = unit(rng);
      c.uncertainty = 5 * unit(rng);
      c.area_px = 200 + static_cast<int64_t>(50000 * unit(rng) * unit(rng));
      c.bbox = {100, 100, 50, 40};
      c.center = {125, 120};
      c.evidence.resize(maskterial::score::evidence_names().size());
      for (float& e : c.evidence) e = static_cast<float>(unit(rng));
      c.rle = {{"size", {1200, 1920}}, {"counts", std::string(200, 'a')}};
      c.thumbnail_jpeg = thumbnail;
    }
    out.store->save_image(out.scan.id, image.id, {1920, 1200, {}, ""}, candidates);
  }
  return out;
}

Chip& chip() {
  static Chip c = generate("maskterial_bench_scan.sqlite", kImages);
  return c;
}

void run_query(benchmark::State& state, CandidateQuery query) {
  Chip& c = chip();
  for (auto _ : state) {
    const CandidatePage page = c.store->candidates(c.scan.id, query);
    benchmark::DoNotOptimize(page.total);
  }
}

void BM_FirstPageByScore(benchmark::State& state) { run_query(state, {}); }
void BM_DeepPageByScore(benchmark::State& state) {
  CandidateQuery q;
  q.offset = 100000;
  run_query(state, q);
}
void BM_DeepFilteredPage(benchmark::State& state) {
  CandidateQuery q;
  q.class_name = "2";
  q.offset = 40000;
  run_query(state, q);
}
void BM_FirstPageByAreaAscending(benchmark::State& state) {
  CandidateQuery q;
  q.sort = SortKey::Area;
  q.descending = false;
  run_query(state, q);
}
void BM_FirstPageByUncertainty(benchmark::State& state) {
  CandidateQuery q;
  q.sort = SortKey::Uncertainty;
  run_query(state, q);
}
void BM_FilteredClassScoreArea(benchmark::State& state) {
  CandidateQuery q;
  q.class_name = "2";
  q.min_score = 0.8;
  q.min_area_um2 = 500;
  run_query(state, q);
}
void BM_UnreviewedPage(benchmark::State& state) {
  CandidateQuery q;
  q.verdict = Verdict::None;
  q.offset = 5000;
  run_query(state, q);
}
void BM_SetVerdict(benchmark::State& state) {
  Chip& c = chip();
  int64_t id = 1;
  for (auto _ : state) c.store->set_verdict(c.scan.id, id++ % 200000 + 1, Verdict::Accept, std::nullopt);
}

// 10,000 candidates, 100 of them reviewed: fit, rescore all, store the scores in one transaction.
void BM_Rerank10k(benchmark::State& state) {
  static Chip c = generate("maskterial_bench_rerank.sqlite", 1000);
  CandidateQuery first;
  first.limit = 100;
  for (const Candidate& candidate : c.store->candidates(c.scan.id, first).candidates)
    c.store->set_verdict(c.scan.id, candidate.id, candidate.evidence[0] > 0.5f ? Verdict::Accept : Verdict::Reject,
                         std::nullopt);
  for (auto _ : state) benchmark::DoNotOptimize(rerank_scan(*c.store, c.scan));
}

}  // namespace

BENCHMARK(BM_FirstPageByScore)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeepPageByScore)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeepFilteredPage)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FirstPageByAreaAscending)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FirstPageByUncertainty)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FilteredClassScoreArea)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_UnreviewedPage)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SetVerdict)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Rerank10k)->Unit(benchmark::kMillisecond);
