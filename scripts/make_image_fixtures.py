#!/usr/bin/env python3
"""Dev tool: writes tests/data/image_fixtures.json, reference values computed with OpenCV's and scikit-image's
Python bindings following the published descriptions of MaskTerial's training-data background rule and
2DMatGMM's entropy feature. Run with Debian's python3 (python3-opencv, python3-skimage):
    /usr/bin/python3 scripts/make_image_fixtures.py ../shared/data
The product and its tests never need Python; only this generator does."""
import json
import os
import sys

import cv2
import numpy as np
from skimage.filters.rank import entropy
from skimage.morphology import disk

shared = sys.argv[1]
out = {"training_background": {}, "entropy": {}}

demo = os.path.join(shared, "maskterial-demo", "images")
for material in ["GrapheneH", "WSe2", "hBN_Thin"]:
    name = sorted(os.listdir(os.path.join(demo, material)))[0]
    img = cv2.imread(os.path.join(demo, material, name))
    channel_masks = []
    for c in range(3):
        ch = img[:, :, c]
        valid = cv2.inRange(ch, 20, 230)
        mode = int(np.argmax(cv2.calcHist([ch], [0], valid, [256], [0, 256])))
        near = cv2.inRange(ch, mode - 10, mode + 10)
        channel_masks.append(cv2.erode(near, np.ones((3, 3), np.uint8), iterations=3))
    joint = channel_masks[0] & channel_masks[1] & channel_masks[2]
    out["training_background"][f"{material}/{name}"] = list(cv2.mean(img, mask=joint)[:3])

# Entropy: a crop of a real image and an irregular mask, eroded as 2DMatGMM does.
img = cv2.imread(os.path.join(shared, "2dmatgmm-demo", "images", "14f99233-cc7c-42ea-b7e3-316f5158e0f7.jpg"))
img = cv2.medianBlur(img, 5)
crop = img[600:660, 1100:1180]
mask = np.zeros(crop.shape[:2], np.uint8)
cv2.ellipse(mask, (40, 30), (30, 18), 20, 0, 360, 255, -1)
mask[25:35, 10:30] = 0
eroded = cv2.erode(mask, disk(2).astype(np.uint8), iterations=2)
gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
ent = entropy(gray, footprint=disk(2), mask=eroded)
out["entropy"] = {"image": "2dmatgmm-demo/images/14f99233-cc7c-42ea-b7e3-316f5158e0f7.jpg",
                  "crop_xywh": [1100, 600, 80, 60], "ellipse": [40, 30, 30, 18, 20], "hole_xywh": [10, 25, 20, 10],
                  "mean_entropy": cv2.mean(ent, mask=eroded)[0]}
path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "image_fixtures.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(json.dumps(out, indent=1))
