#pragma once
// Where on the chip an image was taken, so an accepted flake can be found again at the transfer stage: from the
// image's name (`..._X12.5_Y-3.0...`, µm) or from a `positions.csv` beside the images (image,x_um,y_um).
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace maskterial::store {

using StagePosition = std::pair<double, double>;  // x, y in µm

// "chip3_X12.5_Y-3.0.jpg" -> (12.5, -3.0); letters in either case; nothing when the name carries none.
std::optional<StagePosition> stage_position_from_name(const std::string& file_name);

constexpr const char* kPositionsFile = "positions.csv";
// folder/positions.csv by image file name; empty when the file is absent. A malformed row is skipped with a
// warning naming the file and line.
std::map<std::string, StagePosition> read_stage_positions(const std::string& folder);

}  // namespace maskterial::store
