// The floor every speed figure is divided by: the fastest JPEG decode OpenCV does on one core. Best of 5 passes
// of cv::imdecode (IMREAD_COLOR) over the files given, their bytes already in memory; prints ms per image.
// The same measurement as ../shared/acceptance/decode_floor.cpp.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  cv::setNumThreads(1);
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    files.push_back(bytes.str());
  }
  if (files.empty()) {
    std::cerr << "usage: decode_floor JPEG...\n";
    return 2;
  }
  double best = 1e300;
  for (int pass = 0; pass < 5; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    for (auto& f : files) {
      const cv::Mat image = cv::imdecode(cv::Mat(1, static_cast<int>(f.size()), CV_8U, f.data()), cv::IMREAD_COLOR);
      if (image.empty()) {
        std::cerr << "decode_floor: a file is not a readable image\n";
        return 1;
      }
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, ms / static_cast<double>(files.size()));
  }
  std::cout << best << "\n";
}
