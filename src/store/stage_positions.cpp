#include "maskterial/store/stage_positions.hpp"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <spdlog/spdlog.h>

namespace maskterial::store {

std::optional<StagePosition> stage_position_from_name(const std::string& file_name) {
  static const std::regex pattern(R"((?:^|[_\-. ])[Xx](-?\d+(?:\.\d+)?)_[Yy](-?\d+(?:\.\d+)?)(?:$|[_\-. ]))");
  std::smatch match;
  if (!std::regex_search(file_name, match, pattern)) return std::nullopt;
  return StagePosition{std::stod(match[1]), std::stod(match[2])};
}

std::map<std::string, StagePosition> read_stage_positions(const std::string& folder) {
  std::map<std::string, StagePosition> positions;
  const std::filesystem::path path = std::filesystem::path(folder) / kPositionsFile;
  std::ifstream in(path);
  if (!in) return positions;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream row(line);
    std::string image, x, y;
    std::getline(row, image, ',');
    std::getline(row, x, ',');
    std::getline(row, y, ',');
    if (number == 1 && image == "image") continue;  // the header
    try {
      size_t used_x = 0, used_y = 0;
      const double xv = std::stod(x, &used_x), yv = std::stod(y, &used_y);
      if (image.empty() || used_x != x.size() || used_y != y.size()) throw std::invalid_argument("row");
      positions[std::filesystem::path(image).filename().string()] = {xv, yv};
    } catch (const std::exception&) {
      spdlog::warn("{}:{}: expected image,x_um,y_um; row skipped", path.string(), number);
    }
  }
  return positions;
}

}  // namespace maskterial::store
