#pragma once
// Scans made up for the store and API tests: images with stage positions and candidates of known values.
#include <string>
#include <vector>

#include "maskterial/coco/rle.hpp"
#include "maskterial/score/evidence.hpp"
#include "maskterial/store/scan_store.hpp"

namespace maskterial::store::test {

constexpr double kUmPerPx = 0.5;

inline Candidate make_candidate(int i) {
  Candidate c;
  c.class_id = 1 + i % 3;
  c.class_name = std::to_string(c.class_id);
  c.score = c.detector_score = (i % 10) / 10.0;
  c.uncertainty = (i % 7) * 0.5;
  c.area_px = 100 + 10 * i;
  c.bbox = {10.0 * i, 20, 30, 40};
  c.center = {10 * i + 15, 40};
  c.mean_contrast_bgr = {-0.1, -0.05, -0.02};
  // Every evidence value but the first alike; the first tells odd candidates from even ones.
  c.evidence.assign(score::evidence_names().size(), 0.5f);
  c.evidence[0] = static_cast<float>(i % 2) + 0.01f * static_cast<float>(i % 5);
  c.rle = coco::to_json(coco::from_bbox({5, 5, 10, 10}, 100, 200));
  c.thumbnail_jpeg = "jpeg bytes " + std::to_string(i);
  return c;
}

// A scan of `images` images named img<k>_X<k>_Y-<k>.jpg with `per_image` candidates each.
inline ScanInfo fill(ScanStore& store, int images, int per_image, const std::string& name = "chip") {
  const ScanInfo scan = store.open_scan(name, {"/data/chip"}, {{"models", "test"}}, kUmPerPx, nullptr);
  std::vector<ImageRecord> records;
  for (int k = 0; k < images; ++k) {
    ImageRecord r;
    r.path = "/data/chip/img" + std::to_string(k) + ".jpg";
    r.name = "img" + std::to_string(k) + ".jpg";
    r.stage_x_um = 1000.0 * k;
    r.stage_y_um = -500.0;
    records.push_back(r);
  }
  store.add_images(scan.id, records);
  int i = 0;
  for (const ImageRecord& image : store.pending_images(scan.id)) {
    std::vector<Candidate> candidates;
    for (int j = 0; j < per_image; ++j) candidates.push_back(make_candidate(i++));
    store.save_image(scan.id, image.id, {200, 100, {120, 110, 100}, ""}, candidates);
  }
  return scan;
}

}  // namespace maskterial::store::test
