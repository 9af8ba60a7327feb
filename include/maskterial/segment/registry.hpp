#pragma once
// One registry of segmentation model types: each type registered once with its loader and description, used by
// the CLI, the server and training jobs alike. A model directory names its type in model.json ("kind":
// "segmentation", "type": ...). Their fine-tuners are registered by the training library (segment/trainers.hpp).
#include <functional>
#include <string>
#include <vector>

#include "maskterial/segment/instance_segmenter.hpp"

namespace maskterial::segment {

struct SegmenterType {
  std::string name;         // model.json "type"
  std::string description;  // one line for --help, the API and the web page
  // Loads a model directory of this type; throws Error naming the file on anything wrong with it.
  std::function<SegmenterPtr(const std::string& dir, double score_threshold)> load;
};

const std::vector<SegmenterType>& segmenter_types();
// Throws Error listing the known types when `name` is none of them.
const SegmenterType& segmenter_type(const std::string& name);
// The type named by dir/model.json; throws Error naming the file when it is missing, malformed or not a
// segmentation model.
std::string segmenter_type_of(const std::string& dir);
SegmenterPtr load_segmenter(const std::string& dir, double score_threshold = kDefaultScoreThreshold);

}  // namespace maskterial::segment
