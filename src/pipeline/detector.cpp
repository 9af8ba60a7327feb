#include "maskterial/pipeline/detector.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "maskterial/pipeline/components.hpp"
#include "maskterial/pipeline/faint_regions.hpp"
#include "maskterial/pipeline/flake_measure.hpp"
#include "maskterial/pipeline/terraces.hpp"
#include "maskterial/score/evidence.hpp"
#include "maskterial/util/error.hpp"

namespace maskterial {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point& t) {
  const auto now = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - t).count();
  t = now;
  return ms;
}

// A component's box grown by one pixel, so contours are traced as on the whole image.
cv::Rect padded(const cv::Rect& box, const cv::Size& size) {
  return cv::Rect(box.x - 1, box.y - 1, box.width + 2, box.height + 2) & cv::Rect(cv::Point(0, 0), size);
}

// The pixels a binary opening of radius `radius` can touch all lie in the class's box grown by that radius;
// working on that crop (a copy, so the filter sees no pixels beyond it) gives the opening of the whole image.
cv::Rect opening_crop(const ClassExtent& extent, int radius, const cv::Size& size) {
  return cv::Rect(extent.box.x - radius, extent.box.y - radius, extent.box.width + 2 * radius,
                  extent.box.height + 2 * radius) &
         cv::Rect(cv::Point(0, 0), size);
}

// Pixels of each class id under a mask that lies at `origin` of the label map.
std::array<int, 256> class_votes(const cv::Mat& mask, const cv::Mat& labels, cv::Point origin) {
  std::array<int, 256> votes{};
  for (int y = 0; y < mask.rows; ++y) {
    const uint8_t* m = mask.ptr<uint8_t>(y);
    const uint8_t* l = labels.ptr<uint8_t>(origin.y + y) + origin.x;
    for (int x = 0; x < mask.cols; ++x)
      if (m[x]) ++votes[l[x]];
  }
  return votes;
}

}  // namespace

Detector::Detector(ClassifierPtr classifier, DetectorOptions options, cv::Mat flat_field,
                   segment::SegmenterPtr segmenter, score::FlakeScorePtr flake_score)
    : classifier_(std::move(classifier)),
      options_(options),
      flat_field_(std::move(flat_field)),
      segmenter_(std::move(segmenter)),
      flake_score_(std::move(flake_score)) {
  if (!classifier_ || classifier_->classes().empty()) throw Error("detector: the classifier has no classes");
  if (segmenter_ && options_.rules == ExtractionRules::TwoDMatGmm)
    throw Error("detector: the 2DMatGMM rules extract flakes from the class map; they take no segmenter");
  if (!(options_.min_class_occupancy >= 0 && options_.min_class_occupancy <= 1))
    throw Error("detector: min class occupancy must be in [0, 1]");
  if (options_.distance_threshold < 0) throw Error("detector: distance threshold must not be negative");
  if (options_.size_threshold < 1) throw Error("detector: size threshold must be at least 1 px");
  if (!(options_.max_clipped_share >= 0 && options_.max_clipped_share <= 1))
    throw Error("detector: max clipped share must be in [0, 1]");
  if (!(options_.faint_region_score >= 0 && options_.faint_region_score <= 1))
    throw Error("detector: the faint regions' score must be in [0, 1]");
}

double Detector::threshold() const {
  return options_.distance_threshold > 0 ? options_.distance_threshold : classifier_->default_threshold();
}

ContrastLut Detector::lut(const Bgr& background) const {
  return contrast_lut(background, options_.rules == ExtractionRules::TwoDMatGmm ? ContrastPrecision::Float32
                                                                                : classifier_->precision());
}

cv::Mat Detector::preprocess(const cv::Mat& input) const {
  cv::Mat image = input;
  if (!flat_field_.empty()) image = apply_flat_field(image, flat_field_);
  if (options_.rules == ExtractionRules::TwoDMatGmm) {
    cv::Mat blurred;
    cv::medianBlur(image, blurred, 5);
    image = blurred;
  }
  return image;
}

BackgroundEstimate Detector::background(const cv::Mat& image, const std::string& name) const {
  BackgroundEstimate bg = measure_background(image, BackgroundRule::inference());
  if (!bg.any_usable()) throw Error(name + ": the substrate colour cannot be measured: " + bg.explain());
  return bg;
}

PixelClassification Detector::classify(const cv::Mat& input, const std::string& name, Bgr* background) const {
  const cv::Mat image = preprocess(input);
  const BackgroundEstimate bg = this->background(image, name);
  if (background) *background = bg.colour;
  return classifier_->classify(image, lut(bg.colour), threshold(), cv::Mat(), bg.usable());
}

void Detector::set_class(Flake& flake, uint8_t id) const {
  flake.class_id = id;
  const ClassLabel* label = id == kUnknownClassId ? nullptr : classifier_->find_class(id);
  flake.class_name = label ? label->name : "unknown";
  // How far the flake's mean colour is from its class: large = doubtful label (see PixelClassifier). An
  // unknown flake gets its distance to the nearest class.
  flake.uncertainty = uncertainty(flake, kAllChannels);
}

double Detector::uncertainty(const Flake& flake, const ChannelMask& channels) const {
  if (flake.class_id != kUnknownClassId && classifier_->find_class(flake.class_id))
    return classifier_->flake_uncertainty(flake.mean_contrast_bgr, flake.class_id, channels);
  double nearest = std::numeric_limits<double>::infinity();
  for (const ClassLabel& c : classifier_->classes())
    nearest = std::min(nearest, classifier_->flake_uncertainty(flake.mean_contrast_bgr, c.id, channels));
  return nearest;
}

void Detector::finish_flake(Flake& flake, const ClassLabel& label, const cv::Mat& labels, const cv::Mat& mask,
                            const cv::Rect& roi) const {
  set_class(flake, label.id);
  // Share of the final (hole-filled) mask that the classifier put in this class.
  const cv::Mat same = labels(roi) == label.id;
  cv::Mat inside;
  cv::bitwise_and(same, mask, inside);
  flake.class_share = flake.area > 0 ? static_cast<double>(cv::countNonZero(inside)) / flake.area : 0.0;
}

std::vector<ClassLabel> Detector::extracted_classes() const {
  std::vector<ClassLabel> classes = classifier_->classes();
  if (options_.report_unknown && classifier_->models_background()) classes.push_back({kUnknownClassId, "unknown"});
  return classes;
}

Detection Detector::detect(const cv::Mat& input, const std::string& name, DetectTimings* timings) const {
  auto t = Clock::now();
  DetectTimings local;
  DetectTimings& time = timings ? *timings : local;

  const cv::Mat image = preprocess(input);
  time.preprocess_ms = ms_since(t);

  Detection out;
  out.image = name;
  out.width = input.cols;
  out.height = input.rows;
  const BackgroundEstimate bg = background(image, name);
  const ChannelMask channels = bg.usable();
  out.background_bgr = bg.colour;
  out.background_note = bg.explain();
  time.background_ms = ms_since(t);

  std::vector<segment::InstanceMask> instances;
  std::vector<Component> faint;  // with a segmenter: faint plateaus none of its masks covers
  cv::Mat covered;  // with a segmenter: where any of its masks (or a faint plateau) lies
  const bool masks_only = segmenter_ && !options_.fill_from_classifier;
  if (segmenter_) {
    instances = segmenter_->predict(image);
    covered = cv::Mat::zeros(image.size(), CV_8U);
    for (const auto& instance : instances) {
      if (instance.mask.size() != image.size() || instance.mask.type() != CV_8U)
        throw Error(name + ": the segmenter returned a mask that is not an 8-bit image of the image's size");
      cv::bitwise_or(covered, instance.mask, covered);
    }
    if (options_.find_faint_regions) {
      faint = find_faint_regions(image, bg.colour, channels, covered);
      for (const Component& region : faint) {
        cv::Mat under = covered(region.box);
        cv::bitwise_or(under, render_component(region, region.box), under);
      }
    }
    time.segment_ms = ms_since(t);
  }

  PixelClassification pixels;
  // With a segmenter and no fill-in only the pixels of its masks are classified.
  if (!masks_only || !instances.empty() || !faint.empty())
    pixels = classifier_->classify(image, lut(out.background_bgr), threshold(), masks_only ? covered : cv::Mat(),
                                   channels);
  cv::Mat& labels = pixels.labels;
  if (classifier_->models_background() && !labels.empty()) {
    const cv::Mat unlike_all = (labels == 0) & (pixels.distance > threshold());
    if (options_.report_unknown) {
      labels.setTo(kUnknownClassId, unlike_all);
    } else if (segmenter_ && options_.unknown_inside_masks) {
      labels.setTo(kUnknownClassId, unlike_all & covered);
    }
  }
  time.classify_ms = ms_since(t);

  if (segmenter_)
    extract_segmented(instances, faint, covered, labels, image, out.background_bgr, channels, out);
  else if (options_.rules == ExtractionRules::TwoDMatGmm)
    extract_2dmatgmm(labels, image, out.background_bgr, out);
  else
    extract_maskterial(labels, image, out.background_bgr, out);
  if (options_.rules == ExtractionRules::MaskTerial)
    out.flakes.erase(std::remove_if(out.flakes.begin(), out.flakes.end(),
                                    [&](const Flake& f) { return f.clipped_share > options_.max_clipped_share; }),
                     out.flakes.end());
  // The classes' distances over the channels the image measures (set_class used all three).
  if (channels != kAllChannels)
    for (Flake& f : out.flakes) f.uncertainty = uncertainty(f, channels);
  time.components_ms = ms_since(t);

  if (segmenter_) score_flakes(image, out);
  time.score_ms = ms_since(t);

  std::vector<Flake> kept;
  for (auto& f : out.flakes)
    if (f.score >= options_.min_score) kept.push_back(std::move(f));
  out.flakes = std::move(kept);
  return out;
}

void Detector::score_flakes(const cv::Mat& image, Detection& out) const {
  for (Flake& flake : out.flakes) {
    if (flake.origin == kOriginFaint) continue;  // listed last whatever the model says (DetectorOptions)
    flake.evidence = score::measure_evidence(image, out.background_bgr, flake);
    if (!flake_score_ || flake_score_->empty()) continue;
    flake.score = flake_score_->probability(flake.evidence);
    flake.false_positive_probability = 1.0 - flake.score;
  }
  // Best first, with or without a score model (then the segmentation model's score, the fill-in's halved): a
  // lab reviews the list and the overlay's #0 from the top.
  std::stable_sort(out.flakes.begin(), out.flakes.end(), [](const Flake& a, const Flake& b) { return a.score > b.score; });
}

void Detector::extract_2dmatgmm(const cv::Mat& labels, const cv::Mat& image, const Bgr& background,
                                   Detection& out) const {
  static const cv::Mat disk2 = disk_kernel(2);
  const FlakeSource source{image, background};
  const std::vector<ClassExtent> extents = class_extents(labels);
  for (const ClassLabel& label : extracted_classes()) {
    if (extents[label.id].pixels < options_.size_threshold) continue;  // the opening only removes pixels
    const cv::Rect crop = opening_crop(extents[label.id], 2, labels.size());
    cv::Mat layer = labels(crop) == label.id;
    cv::morphologyEx(layer, layer, cv::MORPH_OPEN, disk2);
    if (cv::countNonZero(layer) < options_.size_threshold) continue;
    for (const Component& component : connected_components(layer, 4, crop.tl())) {
      if (component.area < options_.size_threshold) continue;
      const cv::Rect roi = padded(component.box, labels.size());
      cv::Mat mask = render_component(component, roi);
      std::vector<std::vector<cv::Point>> contours;
      std::vector<cv::Vec4i> hierarchy;
      cv::findContours(mask, contours, hierarchy, cv::RETR_TREE, cv::CHAIN_APPROX_NONE, roi.tl());
      std::vector<std::vector<cv::Point>> outer;
      for (size_t i = 0; i < contours.size(); ++i)
        if (hierarchy[i][3] == -1) outer.push_back(contours[i]);
      if (outer.empty()) continue;
      cv::drawContours(mask, outer, -1, 255, cv::FILLED, cv::LINE_8, cv::noArray(), INT_MAX, -roi.tl());
      Flake flake = measure_flake(source, mask, roi, outer[0]);
      flake.size = component.area;
      finish_flake(flake, label, labels, mask, roi);
      out.flakes.push_back(std::move(flake));
    }
  }
}

void Detector::extract_maskterial(const cv::Mat& labels, const cv::Mat& image, const Bgr& background,
                                     Detection& out) const {
  const cv::Mat square3 = cv::Mat::ones(3, 3, CV_8U);
  const FlakeSource source{image, background};
  const std::vector<ClassExtent> extents = class_extents(labels);
  for (const ClassLabel& label : extracted_classes()) {
    if (extents[label.id].pixels < options_.size_threshold) continue;  // the opening only removes pixels
    const cv::Rect crop = opening_crop(extents[label.id], 2, labels.size());  // 3x3, twice: radius 2
    cv::Mat layer = labels(crop) == label.id;
    cv::morphologyEx(layer, layer, cv::MORPH_OPEN, square3, cv::Point(-1, -1), 2);
    if (cv::countNonZero(layer) < options_.size_threshold) continue;
    std::vector<Component> kept;
    for (auto& component : connected_components(layer, 4, crop.tl()))
      if (component.area >= options_.size_threshold) kept.push_back(std::move(component));
    // MaskTerial traces outer contours of all kept components together: components touching diagonally
    // become one flake, and one lying in another's hole is swallowed by it.
    std::vector<std::vector<cv::Point>> outlines;
    std::vector<cv::Rect> boxes;
    for (const Component& group : merge_touching(kept, 8)) {
      const cv::Rect roi = padded(group.box, labels.size());
      std::vector<std::vector<cv::Point>> contours;
      cv::findContours(render_component(group, roi), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE, roi.tl());
      if (!contours.empty()) {
        outlines.push_back(std::move(contours.front()));
        boxes.push_back(group.box);
      }
    }
    for (size_t i = 0; i < outlines.size(); ++i) {
      bool inside_other = false;
      for (size_t j = 0; j < outlines.size() && !inside_other; ++j)
        inside_other = j != i && (boxes[j] & boxes[i]) == boxes[i] &&
                       cv::pointPolygonTest(outlines[j], outlines[i].front(), false) > 0;
      if (inside_other) continue;
      const cv::Rect box = cv::boundingRect(outlines[i]);
      cv::Mat mask = cv::Mat::zeros(box.size(), CV_8U);
      cv::drawContours(mask, outlines, static_cast<int>(i), 255, cv::FILLED, cv::LINE_8, cv::noArray(), INT_MAX,
                       -box.tl());
      if (cv::countNonZero(mask) < options_.size_threshold) continue;
      Flake flake = measure_flake(source, mask, box, outlines[i]);
      const cv::Moments m = cv::moments(outlines[i]);
      if (m.m00 > 0) flake.center = {static_cast<int>(m.m10 / m.m00), static_cast<int>(m.m01 / m.m00)};
      finish_flake(flake, label, labels, mask, box);
      out.flakes.push_back(std::move(flake));
    }
  }
}

void Detector::extract_segmented(const std::vector<segment::InstanceMask>& instances,
                                 const std::vector<Component>& faint_regions, const cv::Mat& covered,
                                 const cv::Mat& labels, const cv::Mat& image, const Bgr& background,
                                 const ChannelMask& channels, Detection& out) const {
  const FlakeSource source{image, background};
  // region: CV_8U 255 inside, at `box` of the image. The flake: the region's largest outer contour, holes filled.
  const auto add_flake = [&](const cv::Mat& region, const cv::Rect& box, uint8_t id, double share, float score) {
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(region, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_NONE, box.tl());
    if (contours.empty()) return;
    const auto largest = std::max_element(contours.begin(), contours.end(), [](const auto& a, const auto& b) {
      return cv::contourArea(a) < cv::contourArea(b);
    });
    const cv::Rect outline_box = cv::boundingRect(*largest);
    cv::Mat mask = cv::Mat::zeros(outline_box.size(), CV_8U);
    cv::drawContours(mask, contours, static_cast<int>(largest - contours.begin()), 255, cv::FILLED, cv::LINE_8,
                     cv::noArray(), INT_MAX, -outline_box.tl());
    if (cv::countNonZero(mask) < options_.size_threshold) return;
    Flake flake = measure_flake(source, mask, outline_box, *largest);
    const cv::Moments m = cv::moments(*largest);
    if (m.m00 > 0) flake.center = {static_cast<int>(m.m10 / m.m00), static_cast<int>(m.m01 / m.m00)};
    cv::Mat predicted = cv::Mat::zeros(outline_box.size(), CV_8U);
    const cv::Rect shared = (box & outline_box) - outline_box.tl();
    cv::bitwise_and(region((box & outline_box) - box.tl()), mask(shared), predicted(shared));
    flake.size = cv::countNonZero(predicted);
    set_class(flake, id);
    flake.class_share = share;
    flake.score = score;
    flake.false_positive_probability = 1.0 - score;
    flake.origin = kOriginSegmenter;
    out.flakes.push_back(std::move(flake));
  };

  // A region of one class that holds terraces of distinct contrast gives one flake per terrace, of the class
  // most of its pixels have (`unknown_score` when that is unknown).
  TerraceOptions terrace_options;
  terrace_options.min_pixels = options_.size_threshold;
  const auto terraces_of = [&](const cv::Mat& region, const cv::Rect& box) {
    return options_.split_by_contrast ? split_into_terraces(region, box, image, background, channels, terrace_options)
                                      : std::vector<Component>{};
  };
  const auto add_terraces = [&](const std::vector<Component>& terraces, float score, float unknown_score) {
    for (const Component& terrace : terraces) {
      const cv::Mat rendered = render_component(terrace, terrace.box);
      std::array<int, 256> votes = class_votes(rendered, labels, terrace.box.tl());
      votes[0] = 0;  // substrate pixels the opening left inside: not a class of the terrace
      const auto winner = std::max_element(votes.begin(), votes.end());
      if (*winner == 0) continue;
      const auto terrace_id = static_cast<uint8_t>(winner - votes.begin());
      add_flake(rendered, terrace.box, terrace_id, static_cast<double>(*winner) / terrace.area,
                terrace_id == kUnknownClassId ? unknown_score : score);
    }
  };
  const auto add_region = [&](const cv::Mat& region, const cv::Rect& box, uint8_t id, double share, float score,
                              float unknown_score) {
    const std::vector<Component> terraces = terraces_of(region, box);
    if (terraces.empty()) return add_flake(region, box, id, share, score);
    add_terraces(terraces, score, unknown_score);
  };

  cv::Mat claimed = cv::Mat::zeros(labels.size(), CV_8U);  // split mode: pixels a better mask already gave out
  const cv::Mat square3 = cv::Mat::ones(3, 3, CV_8U);
  for (const auto& instance : instances) {
    const cv::Rect box = cv::boundingRect(instance.mask);
    const cv::Mat raw = instance.mask(box);
    const int pixels = box.area() > 0 ? cv::countNonZero(raw) : 0;
    if (pixels < options_.size_threshold) continue;
    const std::array<int, 256> votes = class_votes(raw, labels, box.tl());
    // Unknown parts (unlike every class) rank below every known-class flake.
    const auto unknown_score =
        static_cast<float>(instance.score * options_.unconfirmed_score_factor * options_.unconfirmed_score_factor);
    if (!options_.split_by_class) {
      // Majority vote of the classifier inside the mask as predicted (MaskTerial); ties go to the smaller id.
      const auto winner = std::max_element(votes.begin(), votes.end());
      const auto id = static_cast<uint8_t>(winner - votes.begin());
      const double share = static_cast<double>(*winner) / pixels;
      if (id == 0 || share < options_.min_class_occupancy) continue;
      add_flake(raw, box, id, share, id == kUnknownClassId ? unknown_score : instance.score);
      continue;
    }
    // Each class's connected regions inside the mask, opened as the MaskTerial rules do, become flakes. A class
    // holding at least min_class_occupancy of the mask is the flake's own thickness: it takes every non-substrate
    // pixel of the mask outside the other classes' regions, so pixels the classifier scatters over other
    // thicknesses (noise, edges) do not break one flake into fragments that each inherit the mask's score. It
    // comes first among the mask's flakes.
    const size_t before = out.flakes.size();
    int dominant = 0;
    for (int id = 1; id < 256; ++id)
      if (votes[static_cast<size_t>(id)] >= options_.min_class_occupancy * pixels &&
          (dominant == 0 || votes[static_cast<size_t>(id)] > votes[static_cast<size_t>(dominant)]))
        dominant = id;
    const auto score_of = [&](int id) { return id == kUnknownClassId ? unknown_score : instance.score; };
    const auto share_of = [&](int id) { return static_cast<double>(votes[static_cast<size_t>(id)]) / pixels; };
    for (int id = 1; id < 256; ++id) {
      if (id == dominant || votes[static_cast<size_t>(id)] < options_.size_threshold) continue;
      cv::Mat region = (labels(box) == id) & raw & (claimed(box) == 0);
      cv::morphologyEx(region, region, cv::MORPH_OPEN, square3, cv::Point(-1, -1), 2);
      for (const Component& component : connected_components(region, 4)) {
        if (component.area < options_.size_threshold) continue;
        const cv::Rect part(component.box.tl() + box.tl(), component.box.size());
        const cv::Mat rendered = render_component(component, component.box);
        cv::Mat claimed_part = claimed(part);
        cv::bitwise_or(claimed_part, rendered, claimed_part);
        add_region(rendered, part, static_cast<uint8_t>(id), share_of(id), score_of(id), unknown_score);
      }
    }
    if (dominant != 0) {
      cv::Mat region = raw & (labels(box) != 0) & (claimed(box) == 0);
      cv::morphologyEx(region, region, cv::MORPH_OPEN, square3, cv::Point(-1, -1), 2);
      cv::Mat claimed_box = claimed(box);
      cv::bitwise_or(claimed_box, region, claimed_box);
      const size_t others = out.flakes.size();
      add_region(region, box, static_cast<uint8_t>(dominant), share_of(dominant), score_of(dominant), unknown_score);
      std::rotate(out.flakes.begin() + static_cast<std::ptrdiff_t>(before),
                  out.flakes.begin() + static_cast<std::ptrdiff_t>(others), out.flakes.end());
    }
    // A mask no class claims: an unfamiliar flake (or a thick crystal, dirt); flagged, ranked last.
    if (out.flakes.size() == before && options_.report_unknown)
      add_flake(raw & (claimed(box) == 0), box, kUnknownClassId, 0.0, unknown_score);
  }
  // Faint plateaus: of the class holding most of their pixels (at least min_class_occupancy), else unknown.
  const auto faint_score = static_cast<float>(options_.faint_region_score);
  for (const Component& region : faint_regions) {
    if (labels.empty()) break;  // no classification: a --no-classifier-fill run with nothing found
    const cv::Mat rendered = render_component(region, region.box);
    std::array<int, 256> votes = class_votes(rendered, labels, region.box.tl());
    votes[0] = 0;
    const auto winner = std::max_element(votes.begin(), votes.end());
    const double share = static_cast<double>(*winner) / static_cast<double>(region.area);
    const bool claimed_by_class = share >= options_.min_class_occupancy && winner != votes.begin() + kUnknownClassId;
    const size_t before = out.flakes.size();
    add_flake(rendered, region.box, claimed_by_class ? static_cast<uint8_t>(winner - votes.begin()) : kUnknownClassId,
              claimed_by_class ? share : 0.0, faint_score);
    for (size_t i = before; i < out.flakes.size(); ++i) out.flakes[i].origin = kOriginFaint;
  }
  if (!options_.fill_from_classifier || labels.empty()) return;
  cv::Mat rest = labels.clone();
  rest.setTo(0, covered);
  Detection unconfirmed;
  extract_maskterial(rest, image, background, unconfirmed);
  for (Flake& flake : unconfirmed.flakes) {
    flake.score *= options_.unconfirmed_score_factor;
    flake.false_positive_probability = 1.0 - flake.score;
    // The classifier's region may join terraces of distinct contrast (a thin flake and the thicker one beside
    // it, both within the class's reach) as the segmenter's masks do: split the same way.
    const cv::Rect box(static_cast<int>(flake.bbox[0]), static_cast<int>(flake.bbox[1]),
                       static_cast<int>(flake.bbox[2]), static_cast<int>(flake.bbox[3]));
    const std::vector<Component> terraces =
        options_.split_by_contrast ? terraces_of(coco::decode(flake.segmentation)(box) > 0, box) : std::vector<Component>{};
    const size_t before = out.flakes.size();
    add_terraces(terraces, static_cast<float>(flake.score), static_cast<float>(flake.score));
    for (size_t i = before; i < out.flakes.size(); ++i) out.flakes[i].origin = kOriginClassifier;
    if (out.flakes.size() == before) out.flakes.push_back(std::move(flake));
  }
}

}  // namespace maskterial
