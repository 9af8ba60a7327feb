// Region growing as the annotate page's click runs it (POST /api/annotate/region without the decode): one
// 1920x1200 GrapheneH image, a click on its thin flake and one on bare substrate, one core.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "maskterial/image/io.hpp"
#include "maskterial/image/region.hpp"
#include "maskterial/util/compute_threads.hpp"

namespace {

using namespace maskterial;

const std::string kImage =
    std::string(MASKTERIAL_SHARED_DATA) + "/maskterial-demo/images/GrapheneH/17294f8a-1df7-427f-b8ed-ab54e1571960.jpg";

void grow(benchmark::State& state, cv::Point click, bool expect_flake) {
  set_compute_threads(1);
  if (!std::filesystem::exists(kImage)) return state.SkipWithError("shared demo image not found");
  const cv::Mat image = load_image(kImage);
  for (auto _ : state) {
    const Region region = grow_region(image, click);
    if (region.found != expect_flake) return state.SkipWithError("unexpected region answer");
    benchmark::DoNotOptimize(region.area);
  }
  state.counters["megapixels/s"] = benchmark::Counter(image.total() / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}

// The flake's deepest point (tests/unit/test_region.cpp finds it from the shared instance mask).
void BM_GrowRegionOnThinFlake(benchmark::State& state) { grow(state, {1131, 613}, true); }
void BM_GrowRegionOnSubstrate(benchmark::State& state) { grow(state, {5, 5}, false); }

}  // namespace

BENCHMARK(BM_GrowRegionOnThinFlake)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GrowRegionOnSubstrate)->Unit(benchmark::kMillisecond);
