#pragma once
// Small builders shared by the COCO evaluation tests: one image, hand-placed masks.
#include "maskterial/coco/dataset.hpp"
#include "maskterial/coco/rle.hpp"

namespace maskterial::coco::test_builders {

// Ground truth annotation on image 1, ids numbered 1, 2, ... in the order added.
inline void add_gt(Dataset& gt, int64_t category, const Rle& mask, int crowd = 0) {
  Annotation a;
  a.id = static_cast<int64_t>(gt.annotations.size()) + 1;
  a.image_id = 1;
  a.category_id = category;
  a.segmentation = mask;
  a.area = static_cast<double>(area(mask));
  a.iscrowd = crowd;
  gt.annotations.push_back(a);
}

// A detection on image 1.
inline Annotation det(int64_t category, const Rle& mask, double score) {
  Annotation a;
  a.image_id = 1;
  a.category_id = category;
  a.segmentation = mask;
  a.score = score;
  return a;
}

}  // namespace maskterial::coco::test_builders
