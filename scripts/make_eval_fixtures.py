#!/usr/bin/env python3
"""Writes the golden fixtures of the COCO evaluator tests (tests/data/coco_eval/<case>/).

Each case is a small ground truth (gt.json), a results file (dt.json) and the official pycocotools COCOeval
(iouType "segm") numbers for them (expected.json: the 12 summarize() stats and per-category AP).

    PYTHONPATH=/tmp/pycoco/PythonAPI /usr/bin/python3 scripts/make_eval_fixtures.py

Deterministic (fixed seeds), so rerunning it reproduces the committed files.
"""
import contextlib
import copy
import glob
import io
import json
import os
import random
import sys

import cv2
import numpy as np

# The pycocotools revision at hand still uses np.float, which numpy >= 1.24 removed.
if not hasattr(np, "float"):
    np.float = float

from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "data", "coco_eval")
DEMO_MASKS = os.path.join(ROOT, "..", "shared", "data", "maskterial-demo", "instance_masks")
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def rle_json(mask, compressed=True):
    """COCO RLE of a 0/1 mask; the uncompressed form (list of counts) is what crowd annotations often use."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    if compressed:
        return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}
    flat = mask.astype(np.uint8).flatten(order="F")
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel != value:
            counts.append(run)
            value, run = pixel, 0
        run += 1
    counts.append(run)
    return {"size": list(mask.shape), "counts": counts}


class Case:
    """Accumulates one fixture: images, gt annotations, categories and detections (in file order)."""

    def __init__(self, name, use_categories=True):
        self.name = name
        self.use_categories = use_categories
        self.images, self.gt, self.dt, self.categories = [], [], [], []
        self.sizes = {}

    def category(self, cat_id):
        self.categories.append({"id": cat_id, "name": "class_%d" % cat_id, "supercategory": "flake"})

    def image(self, width, height):
        image_id = len(self.images) + 1
        self.images.append({"id": image_id, "file_name": "img_%d.png" % image_id, "width": width,
                            "height": height})
        self.sizes[image_id] = (height, width)
        return image_id

    def add_gt(self, image_id, cat_id, mask, crowd=0, area=None, ignore=None):
        ann = {"id": len(self.gt) + 1, "image_id": image_id, "category_id": cat_id,
               "segmentation": rle_json(mask, compressed=not crowd),
               "area": float(mask.sum()) if area is None else area,
               "bbox": [float(v) for v in mask_utils.toBbox(mask_utils.encode(np.asfortranarray(mask)))],
               "iscrowd": crowd}
        if ignore is not None:
            ann["ignore"] = ignore
        self.gt.append(ann)

    def add_dt(self, image_id, cat_id, mask, score):
        # No "bbox": loadRes then takes the segm branch and sets the detection area from the mask.
        self.dt.append({"image_id": image_id, "category_id": cat_id, "segmentation": rle_json(mask),
                        "score": score})

    def write(self):
        gt_json = {"images": self.images, "annotations": self.gt, "categories": self.categories}
        expected = official_numbers(gt_json, self.dt, self.use_categories)
        expected["use_categories"] = self.use_categories
        case_dir = os.path.join(OUT_DIR, self.name)
        os.makedirs(case_dir, exist_ok=True)
        for file_name, content in (("gt.json", gt_json), ("dt.json", self.dt), ("expected.json", expected)):
            with open(os.path.join(case_dir, file_name), "w") as f:
                json.dump(content, f, separators=(",", ":"))
        print("%-16s gt=%3d dt=%4d AP=%.4f AR100=%.4f" % (self.name, len(self.gt), len(self.dt),
                                                          expected["stats"]["AP"], expected["stats"]["AR100"]))


def official_numbers(gt_json, dt_list, use_categories):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt_json)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(dt_list))
        evaluator = COCOeval(coco_gt, coco_dt, "segm")
        evaluator.params.useCats = int(use_categories)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]
    max_det_100 = evaluator.params.maxDets.index(100)
    per_category = {}
    for k, cat_id in enumerate(evaluator.params.catIds):
        values = precision[:, :, k, 0, max_det_100]
        values = values[values > -1]
        per_category[str(cat_id)] = float(np.mean(values)) if values.size else -1.0
    return {"stats": {n: float(v) for n, v in zip(STAT_NAMES, evaluator.stats)}, "per_category_AP": per_category}


# ---- random masks -----------------------------------------------------------------------------------------

def random_shape(rng, height, width, min_size=3, max_size=None):
    max_size = max_size or max(min_size + 1, min(height, width) // 2)
    mask = np.zeros((height, width), np.uint8)
    w, h = rng.randint(min_size, max_size), rng.randint(min_size, max_size)
    x, y = rng.randint(0, max(0, width - w)), rng.randint(0, max(0, height - h))
    kind = rng.choice(["rect", "ellipse", "poly"])
    if kind == "rect":
        mask[y:y + h, x:x + w] = 1
    elif kind == "ellipse":
        cv2.ellipse(mask, (x + w // 2, y + h // 2), (max(1, w // 2), max(1, h // 2)), rng.uniform(0, 180), 0, 360,
                    1, -1)
    else:
        points = np.array([[x + rng.randint(0, w), y + rng.randint(0, h)] for _ in range(5)], np.int32)
        cv2.fillPoly(mask, [cv2.convexHull(points)], 1)
    if mask.sum() == 0:
        mask[y, x] = 1
    return mask


def perturb(rng, mask, strength=1):
    """A detection of a gt mask: shifted, eroded or dilated, and with a few pixels flipped."""
    out = mask.copy()
    dx, dy = rng.randint(-strength, strength), rng.randint(-strength, strength)
    out = np.roll(np.roll(out, dy, axis=0), dx, axis=1)
    op = rng.choice(["none", "none", "erode", "dilate"])
    kernel = np.ones((3, 3), np.uint8)
    if op == "erode" and cv2.erode(out, kernel).sum() > 0:
        out = cv2.erode(out, kernel)
    elif op == "dilate":
        out = cv2.dilate(out, kernel)
    flips = rng.randint(0, 3)
    for _ in range(flips):
        out[rng.randrange(out.shape[0]), rng.randrange(out.shape[1])] ^= 1
    if out.sum() == 0:
        out = mask.copy()
    return out


def random_case(name, seed, n_images=8, cats=(1, 2, 3), size=(40, 30), use_categories=True, crowd_rate=0.0,
                tie_scores=False, area_noise=0.0, ignore_rate=0.0, fp_rate=0.5, miss_rate=0.2, max_size=None):
    """Random gt with detections derived from it (perturbed, missed, wrong class) plus false positives."""
    rng = random.Random(seed)
    case = Case(name, use_categories)
    for cat in cats:
        case.category(cat)
    width, height = size
    for _ in range(n_images):
        image_id = case.image(width, height)
        for _ in range(rng.randint(0, 6)):
            mask = random_shape(rng, height, width, min_size=4, max_size=max_size)
            cat = rng.choice(cats)
            crowd = 1 if rng.random() < crowd_rate else 0
            area = float(mask.sum())
            if rng.random() < area_noise:
                area = round(area * rng.uniform(0.3, 3.0), 2)
            ignore = rng.choice([0, 1]) if rng.random() < ignore_rate else None
            case.add_gt(image_id, cat, mask, crowd=crowd, area=area, ignore=ignore)
            for _ in range(rng.choice([1, 1, 1, 2, 3]) if crowd else 1):
                if rng.random() < miss_rate:
                    continue
                det_cat = cat if rng.random() < 0.85 else rng.choice(cats)
                det = perturb(rng, random_shape(rng, height, width, 2, 8) & mask if crowd else mask)
                case.add_dt(image_id, det_cat, det, score(rng, tie_scores))
        while rng.random() < fp_rate:
            case.add_dt(image_id, rng.choice(cats), random_shape(rng, height, width, max_size=max_size),
                        score(rng, tie_scores))
    return case


def score(rng, ties):
    return rng.choice([0.3, 0.5, 0.5, 0.9]) if ties else round(rng.uniform(0.05, 1.0), 6)


# ---- targeted cases ---------------------------------------------------------------------------------------

def crowd_case():
    rng = random.Random(11)
    case = Case("crowd")
    case.category(1)
    case.category(2)
    for _ in range(4):
        image_id = case.image(40, 30)
        crowd = np.zeros((30, 40), np.uint8)
        crowd[5:25, 10:35] = 1
        case.add_gt(image_id, 1, crowd, crowd=1)
        single = random_shape(rng, 30, 40)
        case.add_gt(image_id, 1, single)
        case.add_gt(image_id, 2, random_shape(rng, 30, 40))
        for _ in range(rng.randint(2, 5)):  # small detections inside the crowd region
            blob = random_shape(rng, 30, 40, 2, 8) & crowd
            if blob.sum():
                case.add_dt(image_id, 1, blob, score(rng, False))
        case.add_dt(image_id, 1, perturb(rng, single), score(rng, False))
        case.add_dt(image_id, 1, crowd, score(rng, False))  # the whole crowd region once
    return case


def empty_images_case():
    """Images without gt or dt, with only gt, with only dt, and with both."""
    rng = random.Random(12)
    case = Case("empty_images")
    case.category(1)
    case.category(2)
    kinds = ["none", "gt_only", "dt_only", "both", "none", "dt_only", "gt_only", "both"]
    for kind in kinds:
        image_id = case.image(40, 30)
        for _ in range(rng.randint(1, 3)):
            mask, cat = random_shape(rng, 30, 40), rng.choice([1, 2])
            if kind in ("gt_only", "both"):
                case.add_gt(image_id, cat, mask)
            if kind in ("dt_only", "both"):
                case.add_dt(image_id, cat, perturb(rng, mask), score(rng, False))
    return case


def categories_case():
    """Category 4 only in gt's category list (no annotations), 5 only in detections, 3 with gt but no dt."""
    rng = random.Random(13)
    case = Case("categories")
    for cat in (1, 2, 3, 4):
        case.category(cat)
    for _ in range(4):
        image_id = case.image(40, 30)
        for cat in (1, 2, 3):
            mask = random_shape(rng, 30, 40)
            case.add_gt(image_id, cat, mask)
            if cat != 3:
                case.add_dt(image_id, cat, perturb(rng, mask), score(rng, False))
        case.add_dt(image_id, 5, random_shape(rng, 30, 40), 0.99)
        case.add_dt(image_id, 4, random_shape(rng, 30, 40), 0.98)
    return case


def ties_case():
    """Equal scores and equal IoUs: identical gt masks, duplicate detections, few distinct score values."""
    rng = random.Random(14)
    case = Case("ties")
    case.category(1)
    for _ in range(5):
        image_id = case.image(40, 30)
        mask = random_shape(rng, 30, 40)
        case.add_gt(image_id, 1, mask)
        case.add_gt(image_id, 1, mask.copy())  # same mask twice: a detection has equal IoU with both
        other = random_shape(rng, 30, 40)
        case.add_gt(image_id, 1, other, area=float(other.sum()) if rng.random() < 0.5 else 2000.0)
        for _ in range(rng.randint(2, 4)):
            case.add_dt(image_id, 1, mask if rng.random() < 0.5 else perturb(rng, mask), score(rng, True))
        case.add_dt(image_id, 1, perturb(rng, other), score(rng, True))
        case.add_dt(image_id, 1, random_shape(rng, 30, 40), score(rng, True))
    return case


def max_dets_case():
    """More than 100 detections on one image and more than 10 on others (maxDets 1/10/100 truncation)."""
    rng = random.Random(15)
    case = Case("max_dets")
    case.category(1)
    case.category(2)
    for n_dets in (130, 15, 12):
        image_id = case.image(40, 30)
        masks = [random_shape(rng, 30, 40, 2, 6) for _ in range(8)]
        for mask in masks:
            case.add_gt(image_id, rng.choice([1, 2]), mask)
        for i in range(n_dets):
            if i < len(masks):
                mask = perturb(rng, masks[i])
                cat = case.gt[-len(masks) + i]["category_id"]
            else:
                mask, cat = random_shape(rng, 30, 40, 2, 6), rng.choice([1, 2])
            case.add_dt(image_id, cat, mask, round(rng.uniform(0, 1), 3))
    return case


def area_ranges_case():
    """200x150 images with small, medium and large masks, gt area fields on the 32² and 96² boundaries."""
    rng = random.Random(16)
    case = Case("area_ranges")
    case.category(1)
    case.category(2)
    for i in range(4):
        image_id = case.image(200, 150)
        for size_range in ((3, 20), (35, 80), (100, 140)):
            mask = random_shape(rng, 150, 200, *size_range)
            boundary = [None, 1024.0, 9216.0, 32.0 ** 2 + 0.5, 96.0 ** 2 - 0.5][rng.randrange(5)]
            cat = rng.choice([1, 2])
            case.add_gt(image_id, cat, mask, area=boundary)
            if rng.random() < 0.85:
                case.add_dt(image_id, cat, perturb(rng, mask, 3), score(rng, False))
        case.add_dt(image_id, 1, random_shape(rng, 150, 200, 40, 120), score(rng, False))
    return case


def real_case():
    """Ground truth from three real instance masks; detections are eroded / dilated / shifted copies."""
    rng = random.Random(17)
    case = Case("real_masks")
    case.category(1)
    case.category(2)
    files = sorted(glob.glob(os.path.join(DEMO_MASKS, "GrapheneH", "*.png")))
    files = [f for f in files if len(np.unique(cv2.imread(f, cv2.IMREAD_UNCHANGED))) > 3][:3]
    kernel = np.ones((3, 3), np.uint8)
    for path in files:
        labels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        height, width = labels.shape
        image_id = case.image(width, height)
        case.images[-1]["file_name"] = os.path.basename(path)
        for instance in [v for v in np.unique(labels) if v != 0]:
            mask = (labels == instance).astype(np.uint8)
            cat = 1 + int(instance) % 2
            case.add_gt(image_id, cat, mask)
            if rng.random() < 0.15:
                continue
            det = np.roll(np.roll(mask, rng.randint(-3, 3), axis=0), rng.randint(-3, 3), axis=1)
            for _ in range(rng.randint(0, 3)):
                det = cv2.erode(det, kernel) if rng.random() < 0.5 and cv2.erode(det, kernel).sum() else \
                    cv2.dilate(det, kernel)
            case.add_dt(image_id, cat if rng.random() < 0.9 else 3 - cat, det, round(rng.uniform(0.3, 1.0), 4))
        for _ in range(3):
            fp = np.zeros((height, width), np.uint8)
            cv2.circle(fp, (rng.randrange(width), rng.randrange(height)), rng.randint(5, 60), 1, -1)
            case.add_dt(image_id, rng.choice([1, 2]), fp, round(rng.uniform(0.0, 0.6), 4))
    return case


def main():
    cases = [
        random_case("random_basic", 1),
        random_case("random_mixed", 2, n_images=8, crowd_rate=0.15, area_noise=0.3, ignore_rate=0.3),
        random_case("random_ties", 3, n_images=6, tie_scores=True, crowd_rate=0.1),
        random_case("no_categories", 4, n_images=6, use_categories=False, crowd_rate=0.1, tie_scores=True),
        random_case("random_large", 5, n_images=3, size=(200, 150), max_size=130, area_noise=0.2),
        crowd_case(),
        empty_images_case(),
        categories_case(),
        ties_case(),
        max_dets_case(),
        area_ranges_case(),
        real_case(),
    ]
    for case in cases:
        case.write()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT_DIR) for f in fs)
    print("fixtures: %d bytes" % total)
    return 0 if total < 500_000 else 1


if __name__ == "__main__":
    sys.exit(main())
