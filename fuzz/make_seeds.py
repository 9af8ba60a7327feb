#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from the repository's fixtures and a few
tiny images. Each seed starts with the byte(s) that pick the reader (see the targets). Run from the
repository root; the output is committed, this script only documents and reproduces it. Inputs the fuzzers
found (fuzz/corpus/<target>/regression-*) are kept as seeds beside these."""
import json
import os

import cv2
import numpy as np

ROOT = os.path.join("fuzz", "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data)


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def coco_seeds():
    golden = json.load(open("tests/data/coco/rle_golden.json"))["masks"]
    for m in golden[:6]:
        if m["height"] < 24 and m["width"] < 24:
            write("fuzz_coco", "rle_" + m["name"], bytes([0, m["height"], m["width"]]) + m["counts"].encode())
    write("fuzz_coco", "polygon", bytes([1, 20, 20]) + compact([[1, 1, 10, 1, 10, 12, 1, 12]]))
    write("fuzz_coco", "rle_json", bytes([1, 5, 7]) + compact({"size": [5, 7], "counts": [3, 4, 28]}))
    write("fuzz_coco", "dataset", bytes([2]) + compact(json.load(open("tests/data/coco/dataset.json"))))
    # polygons as 16-bit coordinates x16 (mask 40 x 50), each ended by 0xffff
    square = b"".join((v * 16).to_bytes(2, "big") for v in (1, 1, 10, 1, 10, 12, 1, 12))
    write("fuzz_coco", "polygons", bytes([3, 0, 40, 0, 50]) + square + b"\xff\xff" + square[:12] + b"\xff\xff")


def image_seeds():
    img = np.zeros((6, 9, 3), np.uint8)
    img[1:4, 2:7] = (40, 160, 220)
    for ext, params in [(".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 50]), (".tiff", []),
                        (".bmp", []), (".webp", [cv2.IMWRITE_WEBP_QUALITY, 50]), (".ppm", [])]:
        ok, data = cv2.imencode(ext, img, params)
        assert ok
        write("fuzz_image_header", "tiny" + ext, data.tobytes())


def model_file_seeds():
    for name in ("loc.npy", "cov.npy"):
        write("fuzz_model_files", name, b"\x00" + open("tests/data/amm_maskterial/" + name, "rb").read())
    write("fuzz_model_files", "model.pth", b"\x01" + open("tests/data/amm_maskterial/model.pth", "rb").read())
    write("fuzz_model_files", "gmm.json", b"\x02" + compact(json.load(open("models/gmm/graphene_2dmatgmm.json"))))
    write("fuzz_model_files", "meta_data.json", b"\x05" + compact(json.load(open("tests/data/amm_maskterial/meta_data.json"))))
    for mode, directory in ((3, "pretrained"), (4, "lite-synthetic")):
        meta = json.load(open("models/segmenter/%s/model.json" % directory))
        meta.pop("training")  # the part the loaders do not read, and most of the size
        write("fuzz_model_files", "model_json_" + meta["type"], bytes([mode]) + compact(meta))


def multipart_seeds():
    sep, field, chunk = b"\xff", b"\x01", b"\xfe"
    predict = sep.join([b"image" + field + b"flake.jpg" + field + b"image/jpeg" + field + b"\xff\xd8abc" + chunk + b"def",
                        b"std_threshold" + field + field + field + b"5.5",
                        b"overlay" + field + field + field + b"1",
                        b"?segmentation_model=none"])
    write("fuzz_multipart", "predict", bytes([1, 64]) + predict)
    upload = sep.join([b"model.json" + field + b"model.json" + field + b"application/json" + field + b'{"type":"gmm"}',
                       b"gmm.json" + field + b"gmm.json" + field + field + b"{}",
                       b"overwrite" + field + field + field + b"true"])
    write("fuzz_multipart", "upload", bytes([1, 16]) + upload)
    write("fuzz_multipart", "json_body", bytes([2, 4]) + b'{"a":' + chunk + b"1}")


if __name__ == "__main__":
    coco_seeds()
    image_seeds()
    model_file_seeds()
    multipart_seeds()
