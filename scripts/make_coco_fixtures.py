#!/usr/bin/env python3
"""Regenerates the golden COCO fixtures in tests/data/coco/ from the official COCO mask API.

Dev tool only: neither the product nor the tests run Python. The C++ RLE code must reproduce pycocotools
byte for byte, so this script records what pycocotools returns for a set of masks, polygons, boxes, merges
and IoUs, plus a small dataset and results file read the way COCO / COCO.loadRes read them.

Usage (needs numpy, cv2 and a built pycocotools, e.g. the official cocoapi checkout's PythonAPI):
    PYTHONPATH=/path/to/cocoapi/PythonAPI python3 scripts/make_coco_fixtures.py [demo_instance_masks_dir]
The optional folder (default: ../shared/data/maskterial-demo/instance_masks next to the repo) provides real
instance masks; a few of them get their per-instance compressed strings recorded.
"""
import glob
import json
import os
import sys

import cv2
import numpy as np
import pycocotools._mask as mask_api
import pycocotools.mask as mask_utils
from pycocotools.coco import COCO

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "tests", "data", "coco")
rng = np.random.RandomState(20240601)


def text(rle):
    return rle["counts"].decode("ascii")


def mask_string(m):
    return "".join("1" if v else "0" for v in m.reshape(-1))


def encode(m):
    return mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))


def blob_mask(h, w, n):
    m = np.zeros((h, w), np.uint8)
    for _ in range(n):
        cx, cy = rng.randint(0, w), rng.randint(0, h)
        ax, ay = rng.randint(1, max(2, w // 3)), rng.randint(1, max(2, h // 3))
        cv2.ellipse(m, (int(cx), int(cy)), (int(ax), int(ay)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return m


def masks():
    cases = [
        ("empty_5x7", np.zeros((5, 7), np.uint8)),
        ("full_5x7", np.ones((5, 7), np.uint8)),
        ("zero_1x1", np.zeros((1, 1), np.uint8)),
        ("one_1x1", np.ones((1, 1), np.uint8)),
        ("column_9x1", (rng.rand(9, 1) > 0.5).astype(np.uint8)),
        ("row_1x11", (rng.rand(1, 11) > 0.5).astype(np.uint8)),
        ("first_pixel_3x4", np.pad(np.ones((1, 1), np.uint8), ((0, 2), (0, 3)))),
        ("last_pixel_3x4", np.pad(np.ones((1, 1), np.uint8), ((2, 0), (3, 0)))),
        ("wrap_columns_6x5", np.pad(np.ones((6, 3), np.uint8), ((0, 0), (1, 1)))),
    ]
    for i, (h, w) in enumerate([(7, 13), (13, 7), (31, 17), (2, 3), (17, 1), (1, 17)]):
        cases.append((f"random_{h}x{w}_{i}", (rng.rand(h, w) > 0.5).astype(np.uint8)))
    for i, (h, w) in enumerate([(45, 60), (37, 23), (64, 64)]):
        cases.append((f"blobs_{h}x{w}_{i}", blob_mask(h, w, 4)))
    # A long run gives multi-character values; sparse pixels give large deltas of both signs.
    long = np.zeros((50, 50), np.uint8)
    long[10:45, 3:40] = 1
    long[0, 49] = 1
    cases.append(("long_runs_50x50", long))
    sparse = (rng.rand(40, 40) > 0.97).astype(np.uint8)
    cases.append(("sparse_40x40", sparse))
    out = []
    for name, m in cases:
        rle = encode(m)
        out.append({
            "name": name, "height": int(m.shape[0]), "width": int(m.shape[1]), "mask": mask_string(m),
            "counts": text(rle), "area": int(mask_utils.area(rle)), "bbox": mask_utils.toBbox(rle).tolist(),
        })
    return out


def polygons():
    cases = [
        (10, 10, [[1, 1, 8, 1, 8, 8, 1, 8]]),
        (10, 12, [[0.5, 0.5, 9.5, 0.2, 5.1, 8.7]]),
        (20, 15, [[-3, -2, 18, 4, 7, 25]]),  # leaves the image on three sides
        (7, 9, [[2.2, 2.2, 2.2, 2.2, 2.2, 2.2]]),  # degenerate: one point
        (12, 12, [[1, 1, 10, 10, 1, 10, 10, 1]]),  # self-intersecting bow tie
        (1, 1, [[0, 0, 1, 0, 1, 1, 0, 1]]),
        (9, 1, [[0, 1, 1, 1, 1, 7, 0, 7]]),
        (16, 16, [[2, 2, 6, 2, 6, 6, 2, 6], [8, 8, 14, 9, 9, 14]]),  # two parts, merged like annToRLE
        (16, 16, [[2, 2, 10, 2, 10, 10, 2, 10], [5, 5, 14, 5, 14, 14, 5, 14]]),  # overlapping parts
    ]
    for i in range(12):
        h, w = int(rng.randint(1, 40)), int(rng.randint(1, 40))
        n = int(rng.randint(3, 12))
        poly = np.round(rng.uniform(-5, max(h, w) + 5, size=2 * n), 2).tolist()
        cases.append((h, w, [poly]))
    out = []
    for h, w, polys in cases:
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
        singles = [text(r) for r in mask_api.frPoly(polys, h, w)]
        out.append({"height": h, "width": w, "polygons": polys, "parts": singles, "counts": text(rle)})
    return out


def boxes():
    cases = [(10, 10, [1, 1, 5, 5]), (10, 10, [0, 0, 10, 10]), (10, 10, [-2, -3, 20, 4]),
             (10, 12, [2.3, 1.7, 4.4, 6.1]), (5, 5, [3, 3, 0, 0]), (1, 1, [0, 0, 1, 1]), (30, 20, [15.5, 3, 10, 40])]
    out = []
    for h, w, box in cases:
        rle = mask_api.frBbox(np.array([box], np.double), h, w)[0]
        out.append({"height": h, "width": w, "bbox": box, "counts": text(rle)})
    return out


def merges_and_ious(mask_cases):
    by_size = {}
    for c in mask_cases:
        by_size.setdefault((c["height"], c["width"]), []).append(c["counts"])
    for h, w in [(20, 30), (1, 1), (9, 4)]:
        by_size[(h, w)] = [text(encode(blob_mask(h, w, 2))) for _ in range(4)] + \
            [text(encode(np.zeros((h, w), np.uint8))), text(encode(np.ones((h, w), np.uint8)))]
    merges, ious = [], []
    for (h, w), strings in sorted(by_size.items()):
        rles = [{"size": [h, w], "counts": s.encode("ascii")} for s in strings]
        for intersect in (0, 1):
            merges.append({"height": h, "width": w, "inputs": strings, "intersect": bool(intersect),
                           "counts": text(mask_utils.merge(rles, intersect))})
        if len(rles) >= 2:
            merges.append({"height": h, "width": w, "inputs": strings[:2], "intersect": False,
                           "counts": text(mask_utils.merge(rles[:2], 0))})
            crowd = [int(i % 2) for i in range(len(rles))]
            matrix = mask_utils.iou(rles, rles, crowd)
            ious.append({"height": h, "width": w, "dt": strings, "gt": strings, "iscrowd": crowd,
                         "iou": np.asarray(matrix).tolist()})
    return merges, ious


def uncompressed():
    cases = [(3, 4, [0, 12]), (3, 4, [12]), (3, 4, [2, 3, 1, 6]), (4, 5, [0, 1, 18, 1]), (6, 5, [7, 4, 9, 2, 3, 5])]
    out = []
    for h, w, counts in cases:
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w)
        out.append({"height": h, "width": w, "counts_list": counts, "counts": text(rle),
                    "bbox": mask_utils.toBbox(rle).tolist(), "area": int(mask_utils.area(rle))})
    return out


def real_masks(folder):
    files = sorted(glob.glob(os.path.join(folder, "*", "*.png")))
    chosen = [f for f in files if len(np.unique(cv2.imread(f, cv2.IMREAD_UNCHANGED))) > 2][:3] + files[:1]
    out = []
    for f in chosen:
        m = cv2.imread(f, cv2.IMREAD_UNCHANGED)
        inst = {str(int(i)): text(encode(m == i)) for i in np.unique(m) if i != 0}
        out.append({"file": os.path.relpath(f, folder), "height": int(m.shape[0]), "width": int(m.shape[1]),
                    "foreground": text(encode(m > 0)), "instances": inst})
    return out


def dataset():
    """A small instances file mixing every segmentation form, and a results file, read by COCO/loadRes."""
    poly = [[2.5, 3, 20, 2, 18.5, 15, 4, 12]]
    crowd = {"size": [24, 32], "counts": [40, 6, 18, 6, 18, 6, 674]}
    blob = blob_mask(24, 32, 2)
    compressed = {"size": [24, 32], "counts": text(encode(blob))}
    gt = {
        "images": [{"id": 7, "file_name": "a/one.jpg", "width": 32, "height": 24},
                   {"id": 9, "file_name": "two.png", "width": 32, "height": 24}],
        "categories": [{"id": 1, "name": "flake", "supercategory": "material"}, {"id": 3, "name": "thin"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "segmentation": poly, "area": 150.5,
             "bbox": [2.5, 2, 17.5, 13], "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 3, "segmentation": crowd, "iscrowd": 1},
            {"id": 5, "image_id": 9, "category_id": 1, "segmentation": compressed},
            {"id": 6, "image_id": 9, "category_id": 3, "segmentation": [[1, 1, 9, 1, 9, 9], [20, 20, 30, 20, 25, 23]],
             "iscrowd": 0},
        ],
    }
    results = [
        {"image_id": 9, "category_id": 1, "score": 0.875, "segmentation": compressed},
        {"image_id": 7, "category_id": 3, "score": 0.25,
         "segmentation": {"size": [24, 32], "counts": text(encode(blob_mask(24, 32, 1)))}},
    ]
    gt_path = os.path.join(OUT, "dataset.json")
    res_path = os.path.join(OUT, "results.json")
    for path, value in ((gt_path, gt), (res_path, results)):
        with open(path, "w") as f:
            json.dump(value, f, indent=1)
    coco = COCO(gt_path)
    expected_anns = []
    for ann in gt["annotations"]:
        a = coco.anns[ann["id"]]
        rle = coco.annToRLE(a)
        expected_anns.append({"id": ann["id"], "counts": text(rle) if isinstance(rle["counts"], bytes) else rle["counts"],
                              "rle_area": int(mask_utils.area(rle)), "rle_bbox": mask_utils.toBbox(rle).tolist()})
    res = coco.loadRes(res_path)
    expected_res = [{"id": r["id"], "area": float(r["area"]), "bbox": np.asarray(r["bbox"]).tolist()}
                    for r in res.dataset["annotations"]]
    return {"annotations": expected_anns, "results": expected_res}


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "..", "shared", "data", "maskterial-demo",
                                                                 "instance_masks")
    os.makedirs(OUT, exist_ok=True)
    mask_cases = masks()
    merges, ious = merges_and_ious(mask_cases)
    golden = {"masks": mask_cases, "polygons": polygons(), "boxes": boxes(), "merges": merges, "ious": ious,
              "uncompressed": uncompressed()}
    with open(os.path.join(OUT, "rle_golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
    with open(os.path.join(OUT, "real_masks.json"), "w") as f:
        json.dump(real_masks(folder), f, indent=1)
    with open(os.path.join(OUT, "dataset_expected.json"), "w") as f:
        json.dump(dataset(), f, indent=1)


if __name__ == "__main__":
    main()
